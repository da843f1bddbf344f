"""Generic CSV / JSONL reader (`--format table`).

Columns: `id`, `text`, `image_path` (relative to the file's folder), `label`
(a class name or an integer class id) and, optionally, `split`. The path may be
the file itself or a folder holding exactly one `*.csv`/`*.jsonl` file. Quoted
CSV fields may span lines (up to 16 MB a field); errors name the line.

Classes: the `class_names` option (`--class-names a,b,c`) fixes them and their
order; a label is then a name or an index into them. Without it, names that
include two of the sentiment words give the paper's (negative, neutral,
positive), any other word then being an unknown label; other names are
sorted; integer labels keep their own ids, so 0–4 are five classes "0".."4"
and a 0/1 file has two (integers mixed with sentiment names are ids into
negative, neutral, positive; any other mix needs --class-names). A row whose
label is empty, null, or not one of the classes is reported with its line and
skipped; it never becomes a class.

Paths: an `image_path` that leaves the file's folder (`../x`) or is absolute
is refused and counted, unless `allow_outside_paths=True`
(`--allow-outside-paths`).
"""

from __future__ import annotations

import json
import os

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_records, resolve_file
from data_pipelines.paths import resolve_inside
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

COLUMNS = ("id", "text", "image_path", "label")
NULLS = ("", "null", "none", "nan", "na", "n/a")


def _rows(path: str, report: DataReport):
    """Yield (line number, dict) for each record of a CSV or JSONL file."""
    if path.endswith((".jsonl", ".json")):
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    report.add("bad_row", path, f"invalid JSON: {e.msg}", lineno)
                    continue
                if not isinstance(row, dict):
                    report.add("bad_row", path, "a JSONL line must be an object", lineno)
                    continue
                yield lineno, {str(k).strip().lower(): v for k, v in row.items()}
        return
    yield from csv_records(path, report)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _class_names(raw_labels: list[str], given) -> tuple[str, ...]:
    if given:
        names = [n.strip() for n in (given.split(",") if isinstance(given, str) else given)]
        if len(set(n.lower() for n in names)) != len(names) or not all(names):
            raise ValueError(f"class_names {names}: must be distinct and non-empty")
        return tuple(names)
    words = sorted({lab.lower() for lab in raw_labels if not _is_int(lab)})
    numbers = sorted({int(lab) for lab in raw_labels if _is_int(lab)})
    if words and numbers and set(words) <= set(SENTIMENT_CLASSES) and 0 <= numbers[0] and numbers[-1] < 3:
        return SENTIMENT_CLASSES  # sentiment names, and integers that are ids into them
    if words and numbers:
        raise ValueError(
            f"labels mix class names ({', '.join(words[:3])}) and integers "
            f"({', '.join(map(str, numbers[:3]))}): give --class-names to map the integers"
        )
    if words:
        # two or more sentiment words: the classes are the sentiment classes, any other word is an unknown label
        if len(set(words) & set(SENTIMENT_CLASSES)) >= 2 or set(words) <= set(SENTIMENT_CLASSES):
            return SENTIMENT_CLASSES
        return tuple(words)
    if numbers:
        if numbers[0] < 0:
            raise ValueError(
                f"integer labels must be class ids 0..C-1, found {numbers[0]}: "
                "give --class-names (e.g. negative,neutral,positive for -1/0/1 after remapping)"
            )
        return tuple(str(i) for i in range(numbers[-1] + 1))
    return ()


@register_reader("table")
def read_table(
    path: str, report: DataReport, class_names=None, allow_outside_paths: bool = False, **options
) -> MultimodalDataset:
    """Read a CSV/JSONL table of posts. `class_names` fixes the classes and their order."""
    file = resolve_file(path, ("*.csv", "*.jsonl"))
    base = os.path.dirname(os.path.abspath(file))
    records = []
    for lineno, row in _rows(file, report):
        missing = [c for c in ("id", "label") if c not in row]
        if missing:
            report.add("bad_row", file, f"missing column(s) {missing}", lineno)
            continue
        records.append((lineno, row))
    raw_labels = [
        str(r["label"]).strip()
        for _, r in records
        if r.get("label") is not None and str(r["label"]).strip().lower() not in NULLS
    ]
    try:
        class_names = _class_names(raw_labels, class_names)
    except ValueError as e:
        raise ValueError(f"{file}: {e}") from None
    index = {name.lower(): i for i, name in enumerate(class_names)}
    splits: dict[str, list[Post]] = {}
    seen = set()
    for lineno, row in records:
        pid = str(row["id"]).strip()
        raw = "" if row.get("label") is None else str(row["label"]).strip()
        if raw.lower() in NULLS:
            report.add("no_label", file, f"post {pid}: label {raw or 'empty'!s}", lineno)
            continue
        if raw.lower() in index:
            label = index[raw.lower()]
        elif _is_int(raw) and 0 <= int(raw) < len(class_names):
            label = int(raw)
        else:
            report.add("unknown_label", file, f"label {raw!r} is not one of {list(class_names)}", lineno)
            continue
        if not pid:
            report.add("bad_row", file, "empty id", lineno)
            continue
        if pid in seen:
            report.add("duplicate_id", file, f"id {pid!r} repeated", lineno)
            continue
        seen.add(pid)
        text = row.get("text")
        text = " ".join(str(text).split()) if text is not None else ""
        if not text:
            report.add("empty_text", file, f"post {pid}", lineno)
        image = str(row.get("image_path") or "").strip()
        if image:
            resolved = resolve_inside(base, image, allow_outside=allow_outside_paths)
            if resolved is None:
                report.add(
                    "outside_path",
                    file,
                    f"image_path {image!r} leaves {base} (--allow-outside-paths accepts it)",
                    lineno,
                )
                image = ""
            elif not os.path.exists(resolved):
                report.add("missing_image", resolved, f"listed at {file}:{lineno}")
                image = ""
            else:
                image = resolved
        split = str(row.get("split") or "all").strip() or "all"
        splits.setdefault(split, []).append(
            Post(
                id=pid, text=text or None, image_path=image or None, label=label, meta={"source": file, "line": lineno}
            )
        )
    name = os.path.splitext(os.path.basename(file))[0]
    return MultimodalDataset(name=name, class_names=class_names, splits=splits)
