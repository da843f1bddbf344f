"""Reading captions from files that are often not UTF-8 (MVSA, Flickr dumps).

Decoding order: UTF-8 (with or without BOM), UTF-16 with a BOM, then GB18030,
then cp1252, then latin-1 (which maps every byte). GB18030 comes before cp1252
because the real MVSA-Single's non-UTF-8 captions are GBK/GB18030: `’` is stored
as `A1 AF`, which cp1252 turns into `¡¯`. GB18030 is strict enough that
Western-European cp1252 text (an accented letter before a space or a digit)
fails it and falls through to cp1252.

A caption file is read only if it is a regular file (a folder, FIFO or device
in its place is reported, never opened) and at most `MAX_CAPTION_BYTES` (1 MB)
of it is kept; a longer one is cut and counted.
"""

from __future__ import annotations

import codecs

from data_pipelines.images import OUTSIDE_MESSAGE, read_regular_file
from data_pipelines.report import DataReport

FALLBACK_ENCODINGS = ("gb18030", "cp1252", "latin-1")
MAX_CAPTION_BYTES = 1024 * 1024


def decode_caption(raw: bytes, file: str = "<bytes>", report: DataReport | None = None) -> str:
    """Decode caption bytes (see the module docstring for the order); never fails.

    A fall-back is recorded in `report` as `encoding_fallback` with the encoding used.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
            if report is not None:
                report.add("encoding_fallback", file, "decoded as utf-16")
            return text
        except UnicodeDecodeError:
            pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if report is not None:
            report.add("encoding_fallback", file, f"decoded as {encoding}")
        return text
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def read_caption(path: str, report: DataReport | None = None) -> str | None:
    """Read one caption file; returns None (and records it) when missing, not a file, or empty."""
    raw, problem = read_regular_file(path, MAX_CAPTION_BYTES)
    if problem is not None:
        if report is not None:
            if problem == "missing":
                report.add("missing_text", path)
            elif problem == "outside":
                report.add("outside_path", path, OUTSIDE_MESSAGE)
            else:
                report.add("not_a_file", path, f"the caption path is {problem}")
        return None
    if len(raw) > MAX_CAPTION_BYTES:
        raw = raw[:MAX_CAPTION_BYTES]
        if report is not None:
            report.add("caption_truncated", path, f"longer than {MAX_CAPTION_BYTES // 1024} KB: cut")
        # do not end inside a multi-byte character
        for cut in range(4):
            try:
                raw[: len(raw) - cut].decode("utf-8")
                raw = raw[: len(raw) - cut]
                break
            except UnicodeDecodeError:
                continue
    text = " ".join(decode_caption(raw, path, report).split())
    if not text:
        if report is not None:
            report.add("empty_text", path)
        return None
    return text
