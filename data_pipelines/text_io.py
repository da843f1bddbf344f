"""Reading captions from files that are often not UTF-8 (MVSA, Flickr dumps)."""

from __future__ import annotations

from data_pipelines.report import DataReport

FALLBACK_ENCODINGS = ("cp1252", "latin-1")


def decode_caption(raw: bytes, file: str = "<bytes>", report: DataReport | None = None) -> str:
    """Decode caption bytes: UTF-8 (BOM stripped), then cp1252, then latin-1.

    A fall-back is recorded in `report` as `encoding_fallback`; latin-1 maps
    every byte, so decoding never fails.
    """
    try:
        return raw.decode("utf-8-sig")
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
    """Read one caption file; returns None (and records it) when missing or empty."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if report is not None:
            report.add("missing_text", path)
        return None
    text = " ".join(decode_caption(raw, path, report).split())
    if not text:
        if report is not None:
            report.add("empty_text", path)
        return None
    return text
