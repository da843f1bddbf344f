"""CSV reading shared by the readers: real line numbers, bad rows counted, one file per folder."""

from __future__ import annotations

import csv
import glob
import os

from data_pipelines.report import DataReport

#: the largest CSV field read (the csv module's default, 131,072, stops a run on a long caption)
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(FIELD_SIZE_LIMIT)


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


def csv_records(path: str, report: DataReport):
    """Yield `(line, {column: value})` for each row of a CSV with a header.

    Column names are lower-cased and stripped; a BOM is dropped; quoted fields
    may span lines (the line is where the row starts); blank rows are skipped;
    a row with the wrong number of fields is recorded as `bad_row` with its
    line and skipped.
    """
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        start = reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as e:  # e.g. a field over FIELD_SIZE_LIMIT, a NUL byte
                report.add("bad_row", path, f"unreadable row: {e}", start)
                start = reader.line_num + 1
                continue
            lineno, start = start, reader.line_num + 1
            if not any(x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                report.add("bad_row", path, f"expected {len(header)} fields, got {len(fields)}", lineno)
                continue
            yield lineno, dict(zip(header, fields))


def csv_header(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        return [h.strip().lower() for h in next(csv.reader(f), [])]
