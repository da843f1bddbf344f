"""MVSA-Single / MVSA-Multiple reader (`--format mvsa`).

Layout read here: a folder with `data/ID.jpg`, `data/ID.txt` and a label file
`train.txt` (`guid,tag`, tag one of positive/neutral/negative), optionally
`test_without_label.txt` (tag `null`), as in the MVSA-Single release used by
CLMLF and as written by `mmsa datasets make-synthetic`.
"""

from __future__ import annotations

import os

from data_pipelines.datasets import register_reader
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport
from data_pipelines.text_io import read_caption

LABEL_FILES = {"train.txt": "all", "test_without_label.txt": "unlabelled"}


def read_label_file(
    path: str, class_names: tuple[str, ...], report: DataReport
) -> list[tuple[str, int | None, int]]:
    """Parse a `guid,tag` file. Returns `(guid, label or None, line)` rows.

    Rows with a wrong number of fields, an unknown label or a repeated guid are
    skipped and recorded with their line number.
    """
    index = {name: i for i, name in enumerate(class_names)}
    rows, seen = [], set()
    with open(path, "rb") as f:
        raw_lines = f.read().decode("utf-8-sig", errors="replace").splitlines()
    for lineno, line in enumerate(raw_lines, start=1):
        line = line.strip()
        if not line:
            continue
        fields = [x.strip() for x in line.split(",")]
        if lineno == 1 and fields[0].lower() in ("guid", "id"):
            continue
        if len(fields) != 2:
            report.add("bad_row", path, f"expected 2 fields (guid,tag), got {len(fields)}", lineno)
            continue
        guid, tag = fields
        if tag.lower() in ("null", ""):
            label = None
        elif tag.lower() in index:
            label = index[tag.lower()]
        else:
            report.add("unknown_label", path, f"label {tag!r} is not one of {list(class_names)}", lineno)
            continue
        if guid in seen:
            report.add("duplicate_id", path, f"guid {guid!r} repeated", lineno)
            continue
        seen.add(guid)
        rows.append((guid, label, lineno))
    return rows


def find_image(data_dir: str, guid: str) -> str | None:
    for ext in (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".JPG", ".PNG"):
        path = os.path.join(data_dir, guid + ext)
        if os.path.exists(path):
            return path
    return None


@register_reader("mvsa")
def read_mvsa(path: str, report: DataReport, **options) -> MultimodalDataset:
    """Read an MVSA folder with `train.txt` (and `test_without_label.txt`)."""
    class_names = SENTIMENT_CLASSES
    data_dir = os.path.join(path, "data")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{path}: no data/ folder with ID.jpg and ID.txt files")
    label_files = [n for n in LABEL_FILES if os.path.exists(os.path.join(path, n))]
    if not label_files:
        raise FileNotFoundError(f"{path}: no label file (train.txt or test_without_label.txt)")
    splits: dict[str, list[Post]] = {}
    for name in label_files:
        label_path = os.path.join(path, name)
        for guid, label, lineno in read_label_file(label_path, class_names, report):
            text = read_caption(os.path.join(data_dir, guid + ".txt"), report)
            image = find_image(data_dir, guid)
            if image is None:
                report.add("missing_image", os.path.join(data_dir, guid + ".jpg"), f"listed at {label_path}:{lineno}")
            post = Post(id=guid, text=text, image_path=image, label=label,
                        meta={"source": label_path, "line": lineno})
            splits.setdefault(LABEL_FILES[name], []).append(post)
    return MultimodalDataset(name=os.path.basename(os.path.normpath(path)) or "mvsa",
                             class_names=class_names, splits=splits)
