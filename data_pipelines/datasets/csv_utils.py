"""CSV reading shared by the readers: real line numbers, bad rows counted, one file per folder."""

from __future__ import annotations

import csv
import glob
import os

from data_pipelines.report import DataReport

#: the largest CSV record read (the csv module's default, 131,072, stops a run on a long caption)
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(FIELD_SIZE_LIMIT + 1024)


def resolve_file(path: str, patterns=("*.csv",)) -> str:
    """`path` itself, or the single file matching `patterns` in the folder `path`."""
    if os.path.isdir(path):
        files = sorted(f for p in patterns for f in glob.glob(os.path.join(path, p)))
        if len(files) != 1:
            raise FileNotFoundError(f"{path}: expected one {' or '.join(patterns)} file, found {len(files)}")
        return files[0]
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: not a regular file")
    return path


def _quote_state(line: str, in_quotes: bool, at_field_start: bool) -> tuple[bool, bool]:
    """The csv module's quoting state after `line` (default dialect: `"` opens a field only at its start;
    `""` inside a quoted field is a literal quote). Returns `(in_quotes, at_field_start)`."""
    if '"' not in line:
        return in_quotes, (not in_quotes and line.endswith(("\n", "\r"))) or (at_field_start and not line)
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if in_quotes:
            if c == '"':
                if i + 1 < n and line[i + 1] == '"':
                    i += 1  # an escaped quote
                else:
                    in_quotes = False
        elif c == '"' and at_field_start:
            in_quotes = True
        at_field_start = not in_quotes and c in ",\r\n"
        i += 1
    return in_quotes, at_field_start


def _physical_records(path: str, report: DataReport, limit: int = FIELD_SIZE_LIMIT):
    """Yield `(first line, record text)` for each CSV record, built from physical lines.

    A quoted field may span lines. Two faults never swallow the rest of the file:
    a quote that never closes (the record is skipped, counted with its line, and
    reading resumes on the next line) and a record over `limit` characters (skipped
    up to where its quote closes, counted with its first and last line). The
    caller sends True back for a record that spanned lines but did not parse into
    the header's fields (a quote "closed" by a later row's opening quote): that
    record's first line is skipped as an unclosed quote and reading resumes after it.
    """
    with open(path, "rb") as f:
        lineno = 0
        while True:
            start_offset = f.tell()
            raw = f.readline()
            if not raw:
                return
            lineno += 1
            first = lineno
            text = raw.decode("utf-8", errors="replace")
            if first == 1 and text.startswith("\ufeff"):
                text = text[1:]
            in_quotes, _ = _quote_state(text, False, True)
            parts, size, oversized = [text], len(text), False
            while in_quotes:
                raw = f.readline()
                if not raw:
                    break
                lineno += 1
                line = raw.decode("utf-8", errors="replace")
                in_quotes, _ = _quote_state(line, True, False)
                size += len(line)
                if size > limit:
                    oversized, parts = True, []
                elif not oversized:
                    parts.append(line)
            if oversized and not in_quotes:
                report.add("oversized_field", path, f"lines {first}-{lineno}", first)
                continue
            # the caller answers whether a record spanning lines parsed into the header's number of fields
            wrong = False if in_quotes else (yield first, "".join(parts), lineno - first + 1)
            if in_quotes or wrong:
                # the quote opened on `first` never closes (the end of the file came first), or "closed" on a
                # later row's opening quote: only that line is skipped, reading resumes on the next one
                report.add("unclosed_quote", path, "the quote opened on this line never closes", first)
                f.seek(start_offset)
                f.readline()
                lineno = first


def csv_records(path: str, report: DataReport):
    """Yield `(line, {column: value})` for each row of a CSV with a header.

    Column names are lower-cased and stripped; a BOM is dropped; quoted fields
    may span lines (the line is where the row starts); blank rows are skipped;
    a row with the wrong number of fields (`bad_row`), a quote that never closes
    (`unclosed_quote`) and a field over `FIELD_SIZE_LIMIT` (`oversized_field`) are
    each recorded with their line and skipped, and reading goes on with the next
    record (`_physical_records`).
    """
    header = None
    records = _physical_records(path, report)
    wrong = None  # what the next send() tells the record splitter about the last record
    while True:
        try:
            lineno, text, lines = records.send(wrong)
        except StopIteration:
            return
        wrong = False
        try:
            fields = next(csv.reader([text.rstrip("\r\n")]), [])
        except csv.Error as e:  # e.g. a NUL byte
            report.add("bad_row", path, f"unreadable row: {e}", lineno)
            continue
        if header is None:
            header = [h.strip().lower() for h in fields]
            continue
        if not any(x.strip() for x in fields):
            continue
        if len(fields) != len(header):
            if lines > 1:  # a quote that swallowed the rows after it: resynchronise on the next line
                wrong = True
                continue
            report.add("bad_row", path, f"expected {len(header)} fields, got {len(fields)}", lineno)
            continue
        yield lineno, dict(zip(header, fields))


def csv_header(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        return [h.strip().lower() for h in next(csv.reader(f), [])]
