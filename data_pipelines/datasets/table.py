"""Generic CSV / JSONL reader (`--format table`).

Columns: `id`, `text`, `image_path` (relative to the file's folder, or
absolute), `label` (a class name or an integer id) and, optionally, `split`.
The path may be the file itself or a folder holding exactly one
`*.csv`/`*.jsonl` file. Quoted CSV fields may span lines; errors name the line.
"""

from __future__ import annotations

import json
import os

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_records, resolve_file
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

COLUMNS = ("id", "text", "image_path", "label")


def _rows(path: str, report: DataReport):
    """Yield (line number, dict) for each record of a CSV or JSONL file."""
    if path.endswith((".jsonl", ".json")):
        with open(path, encoding="utf-8-sig") as f:
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
                yield lineno, row
        return
    yield from csv_records(path, report)


@register_reader("table")
def read_table(path: str, report: DataReport, class_names=None, **options) -> MultimodalDataset:
    """Read a CSV/JSONL table of posts. `class_names` fixes the label order."""
    file = resolve_file(path, ("*.csv", "*.jsonl"))
    base = os.path.dirname(os.path.abspath(file))
    records = []
    for lineno, row in _rows(file, report):
        missing = [c for c in ("id", "label") if c not in row]
        if missing:
            report.add("bad_row", file, f"missing column(s) {missing}", lineno)
            continue
        records.append((lineno, row))
    raw_labels = [str(r["label"]).strip() for _, r in records if str(r.get("label", "")).strip()]
    if class_names is None:
        names = sorted({lab.lower() for lab in raw_labels if not lab.lstrip("-").isdigit()})
        if set(names) <= set(SENTIMENT_CLASSES):
            class_names = SENTIMENT_CLASSES
        elif names:
            class_names = tuple(names)
        else:
            n = max(int(x) for x in raw_labels) + 1 if raw_labels else 0
            class_names = tuple(str(i) for i in range(n))
    class_names = tuple(class_names)
    index = {name.lower(): i for i, name in enumerate(class_names)}
    splits: dict[str, list[Post]] = {}
    seen = set()
    for lineno, row in records:
        pid = str(row["id"]).strip()
        raw = str(row.get("label", "")).strip()
        if raw == "" or raw.lower() in ("null", "none", "nan"):
            label = None
        elif raw.lower() in index:
            label = index[raw.lower()]
        elif raw.lstrip("-").isdigit() and 0 <= int(raw) < len(class_names):
            label = int(raw)
        else:
            report.add("unknown_label", file, f"label {raw!r} is not one of {list(class_names)}", lineno)
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
            image = image if os.path.isabs(image) else os.path.join(base, image)
            if not os.path.exists(image):
                report.add("missing_image", image, f"listed at {file}:{lineno}")
                image = ""
        split = str(row.get("split") or "all").strip() or "all"
        splits.setdefault(split, []).append(
            Post(id=pid, text=text or None, image_path=image or None, label=label,
                 meta={"source": file, "line": lineno})
        )
    name = os.path.splitext(os.path.basename(file))[0]
    return MultimodalDataset(name=name, class_names=class_names, splits=splits)
