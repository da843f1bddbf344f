"""MVSA-Single / MVSA-Multiple reader (`--format mvsa`).

Targets the public MVSA release of Niu et al. (MMM 2016), "MVSA-Single" (4,869
pairs, one annotator) and "MVSA-Multiple" (19,600 pairs, three annotators), in
the three layouts found in the wild (detected automatically, or forced with
`layout=`):

* ``original``: `data/ID.jpg`, `data/ID.txt` and `labelResultAll.txt`, a
  tab-separated file `ID <tab> text,image [<tab> text,image ...]` with one
  `text,image` column per annotator. Cleaned by `protocol`:
    - "A" (default; Xu & Mao 2017, used by most later work): majority vote per
      modality over the annotators, a pair without a majority is invalid; same
      labels → keep; neutral plus positive/negative → the polar label;
      positive against negative → drop. 4,511 MVSA-Single pairs (2,683
      positive / 470 neutral / 1,358 negative) and about 17,024 MVSA-Multiple.
    - "B": keep only pairs whose (majority) text and image labels agree
      (2,592 for MVSA-Single); the label is that shared label.
  Each post keeps `text_label` and `image_label`.
* ``guid``: `train.txt` (`guid,tag`) and optionally `test_without_label.txt`
  (tag `null`), as distributed with CLMLF and as written by
  `mmsa datasets make-synthetic`.
* ``json``: split JSON files (lists of `{"id", "text", "emotion_label"}` with
  0 positive, 1 neutral, 2 negative, the CLMLF convention) next to a folder
  of images; file names containing train/dev/valid/test name the splits.

Splits (`split=`): "file" (the layout's own splits; the default), "random"
(seeded stratified 8:1:1), or "paper002" (paper 002's 3,200 train / 800
validation from the labelled posts, the rest test). Captions are decoded as
UTF-8, falling back to UTF-16 (BOM), GB18030 (the real MVSA captions that are not
UTF-8 are GBK/GB18030), cp1252 and latin-1 (counted per encoding). Post ids
that are not plain file names (`../x`, absolute paths) are refused and counted.
"""

from __future__ import annotations

import glob
import json
import os
from collections import Counter

import numpy as np

from data_pipelines.datasets import register_reader
from data_pipelines.images import read_regular_file
from data_pipelines.paths import safe_name
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport
from data_pipelines.splits import stratified_split
from data_pipelines.text_io import read_caption

GUID_FILES = {"train.txt": "all", "test_without_label.txt": "unlabelled"}
ORIGINAL_FILE = "labelResultAll.txt"
#: CLMLF's JSON label ids → ours (0 negative, 1 neutral, 2 positive)
JSON_LABELS = {0: 2, 1: 1, 2: 0}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".JPG", ".JPEG", ".PNG")


MAX_LABEL_FILE_BYTES = 256 * 1024 * 1024


def _read_lines(path: str) -> list[str]:
    raw, problem = read_regular_file(path, MAX_LABEL_FILE_BYTES)
    if problem is not None:
        raise FileNotFoundError(f"{path}: the label file is {problem}")
    if len(raw) > MAX_LABEL_FILE_BYTES:
        raise ValueError(f"{path}: label file larger than {MAX_LABEL_FILE_BYTES // 2**20} MB")
    return raw.decode("utf-8-sig", errors="replace").splitlines()


def read_label_file(path: str, class_names: tuple[str, ...], report: DataReport) -> list[tuple[str, int | None, int]]:
    """Parse a `guid,tag` file. Returns `(guid, label or None, line)` rows.

    Rows with a wrong number of fields, an unknown label or a repeated guid are
    skipped and recorded with their line number.
    """
    index = {name: i for i, name in enumerate(class_names)}
    rows, seen = [], set()
    for lineno, line in enumerate(_read_lines(path), start=1):
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


def majority(labels: list[str]) -> str | None:
    """The label with more than half of the votes, or None."""
    if not labels:
        return None
    label, count = Counter(labels).most_common(1)[0]
    return label if count * 2 > len(labels) else None


def combine(text_label: str, image_label: str, protocol: str) -> str | None:
    """The post label from its text and image labels under protocol A or B."""
    if protocol == "B":
        return text_label if text_label == image_label else None
    if text_label == image_label:
        return text_label
    if "neutral" in (text_label, image_label):
        return image_label if text_label == "neutral" else text_label
    return None  # positive against negative


def read_original_labels(path: str, protocol: str, report: DataReport):
    """Parse `labelResultAll.txt`; yields `(id, label, text_label, image_label, line)`.

    Pairs dropped by the protocol are counted as `dropped_row` with the reason.
    """
    if protocol not in ("A", "B"):
        raise ValueError(f"protocol must be 'A' or 'B', got {protocol!r}")
    index = {name: i for i, name in enumerate(SENTIMENT_CLASSES)}
    seen = set()
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if lineno == 1 and fields[0].strip().upper() == "ID":
            continue
        if len(fields) < 2:
            report.add("bad_row", path, "expected 'ID<tab>text,image' with at least one annotator", lineno)
            continue
        pid = fields[0].strip()
        texts, images, bad = [], [], None
        for ann in fields[1:]:
            parts = [x.strip().lower() for x in ann.split(",")]
            if len(parts) != 2:
                bad = f"annotation {ann!r} is not 'text,image'"
                break
            unknown = [p for p in parts if p not in index]
            if unknown:
                bad = f"label {unknown[0]!r} is not one of {list(SENTIMENT_CLASSES)}"
                break
            texts.append(parts[0])
            images.append(parts[1])
        if bad:
            report.add("unknown_label" if "is not one of" in bad else "bad_row", path, bad, lineno)
            continue
        if pid in seen:
            report.add("duplicate_id", path, f"id {pid!r} repeated", lineno)
            continue
        seen.add(pid)
        t, i = majority(texts), majority(images)
        if t is None or i is None:
            report.add("dropped_row", path, f"protocol {protocol}: no majority among annotators", lineno)
            continue
        label = combine(t, i, protocol)
        if label is None:
            why = "text and image labels differ" if protocol == "B" else "positive against negative"
            report.add("dropped_row", path, f"protocol {protocol}: {why} ({t}, {i})", lineno)
            continue
        yield pid, index[label], index[t], index[i], lineno


def find_image(data_dir: str, guid: str) -> str | None:
    for ext in IMAGE_EXTENSIONS:
        path = os.path.join(data_dir, guid + ext)
        if os.path.exists(path):
            return path
    return None


def detect_layout(path: str) -> str:
    if os.path.exists(os.path.join(path, ORIGINAL_FILE)):
        return "original"
    if any(os.path.exists(os.path.join(path, n)) for n in GUID_FILES):
        return "guid"
    if glob.glob(os.path.join(path, "*.json")):
        return "json"
    raise FileNotFoundError(
        f"{path}: not an MVSA folder: expected {ORIGINAL_FILE}, train.txt / test_without_label.txt, "
        "or split *.json files"
    )


def _image_dir(path: str) -> str:
    for name in ("data", "images", "image", "dataset_image"):
        if os.path.isdir(os.path.join(path, name)):
            return os.path.join(path, name)
    return path


def _post(pid, label, data_dir, report, source, lineno, text=None, text_label=None, image_label=None):
    if not safe_name(pid):
        report.add("outside_path", source, f"post id {pid!r} is not a plain file name", lineno)
        return None
    if text is None:
        text = read_caption(os.path.join(data_dir, pid + ".txt"), report)
    image = find_image(data_dir, pid)
    if image is None:
        report.add("missing_image", os.path.join(data_dir, pid + ".jpg"), f"listed at {source}:{lineno}")
    return Post(
        id=pid,
        text=text,
        image_path=image,
        label=label,
        text_label=text_label,
        image_label=image_label,
        meta={"source": source, "line": lineno},
    )


def _kept(posts):
    return [p for p in posts if p is not None]


def _read_json_layout(path, data_dir, report, text_source: str = "file"):
    """Split JSON files next to a folder of images. A caption comes from `data/ID.txt` when that file
    exists (decoded like every other layout: the split files of the public protocol-A release carry the
    non-UTF-8 captions lossily, e.g. "ressuscité" as "ressuscit"), and the posts whose JSON `text`
    differs are counted (`json_text_differs`); `text_source="json"` keeps the JSON's text."""
    if text_source not in ("file", "json"):
        raise ValueError(f"text_source must be 'file' or 'json', got {text_source!r}")
    splits: dict[str, list[Post]] = {}
    for file in sorted(glob.glob(os.path.join(path, "*.json"))):
        try:
            with open(file, encoding="utf-8-sig") as f:
                records = json.load(f)
        except json.JSONDecodeError as e:
            report.add("bad_row", file, f"invalid JSON: {e.msg}", e.lineno)
            continue
        if not isinstance(records, list):
            continue
        stem = os.path.basename(file).lower()
        split = (
            "train"
            if "train" in stem
            else "validation"
            if ("dev" in stem or "val" in stem)
            else "test"
            if "test" in stem
            else "all"
        )
        seen = {p.id for posts in splits.values() for p in posts}
        for n, rec in enumerate(records, start=1):
            if not isinstance(rec, dict) or "id" not in rec:
                report.add("bad_row", file, f"record {n} has no 'id'")
                continue
            pid = str(rec["id"])
            raw = rec.get("emotion_label", rec.get("label"))
            if raw is None or str(raw).lower() == "null":
                label = None
            else:
                try:
                    label = JSON_LABELS[int(raw)]
                except (KeyError, ValueError):
                    report.add("unknown_label", file, f"record {n} (id {pid}): label {raw!r} is not 0, 1 or 2")
                    continue
            if pid in seen:
                report.add("duplicate_id", file, f"record {n}: id {pid!r} repeated")
                continue
            seen.add(pid)
            text = " ".join(str(rec.get("text") or "").split()) or None
            caption_file = os.path.join(data_dir, pid + ".txt") if safe_name(pid) else None
            if text_source == "file" and caption_file and os.path.isfile(caption_file):
                from_file = read_caption(caption_file, report)
                if " ".join((from_file or "").split()) != (text or ""):
                    report.add(
                        "json_text_differs",
                        file,
                        f"record {n} (id {pid}): its text differs from {pid}.txt, whose caption is used "
                        "(--option text_source=json keeps the JSON's)",
                    )
                text = " ".join((from_file or "").split()) or None
            if text is None:
                report.add("empty_text", file, f"record {n} (id {pid})")
            post = _post(pid, label, data_dir, report, file, n, text=text)
            if post is not None:
                splits.setdefault(split, []).append(post)
    if not splits:
        raise FileNotFoundError(f"{path}: no JSON split file holds a list of posts")
    return splits


def paper002_split(
    posts: list[Post], seed: int = 0, train: int = 3200, validation: int = 800, own_test: list[Post] | None = None
) -> tuple[dict[str, list[Post]], list[str]]:
    """Paper 002's split: 3,200 train / 800 validation / the rest (512 in the paper) test, drawn with
    `seed` from the labelled posts. Returns `(splits, notes)`.

    A dataset that comes with its own test split keeps it: train and validation
    are drawn from the other posts (3,200 / 800 when there are enough, else 4:1).
    With too few labelled posts for 3,200 + 800 + a test set, a seeded
    stratified 8:1:1 split is drawn instead. Each case is said in `notes`.
    """
    labelled = [p for p in posts if p.label is not None]
    rng = np.random.default_rng(seed)
    if own_test:
        order = rng.permutation(len(labelled))
        pick = [labelled[i] for i in order]
        if len(pick) >= train + validation:
            cut, end = train, train + validation
            note = (
                f"paper002 split: the dataset's own test split ({len(own_test)} posts) kept; 3,200 train / "
                f"800 validation drawn (seed {seed}) from its other {len(pick)} labelled posts"
            )
        else:
            cut = round(len(pick) * 0.8)
            end = len(pick)
            note = (
                f"paper002 split: the dataset's own test split ({len(own_test)} posts) kept; its other "
                f"{len(pick)} labelled posts are fewer than 3,200 + 800, so they were split 4:1 "
                f"(seed {seed}) into {cut} train / {end - cut} validation"
            )
        return {"train": pick[:cut], "validation": pick[cut:end], "test": list(own_test)}, [note]
    if len(labelled) <= train + validation:
        splits = stratified_split(labelled, seed=seed)
        return splits, [
            f"paper002 split: {len(labelled)} labelled posts cannot hold 3,200 + 800 + a test set; "
            f"a seeded stratified 8:1:1 split (seed {seed}) was drawn instead: "
            f"{len(splits['train'])} / {len(splits['validation'])} / {len(splits['test'])}"
        ]
    order = rng.permutation(len(labelled))
    pick = [labelled[i] for i in order]
    splits = {"train": pick[:train], "validation": pick[train : train + validation], "test": pick[train + validation :]}
    return splits, [
        f"paper002 split: 3,200 train / 800 validation / {len(splits['test'])} test drawn "
        f"(seed {seed}) from {len(labelled)} labelled posts"
    ]


@register_reader("mvsa")
def read_mvsa(
    path: str,
    report: DataReport,
    protocol: str = "A",
    split: str = "file",
    seed: int = 0,
    layout: str | None = None,
    text_source: str = "file",
    **options,
) -> MultimodalDataset:
    """Read an MVSA-Single/Multiple folder in any of the three layouts (`text_source`: see
    `_read_json_layout`)."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder")
    layout = layout or detect_layout(path)
    data_dir = _image_dir(path)
    splits: dict[str, list[Post]] = {}
    if layout == "original":
        source = os.path.join(path, ORIGINAL_FILE)
        splits["all"] = _kept(
            _post(pid, label, data_dir, report, source, lineno, text_label=t, image_label=i)
            for pid, label, t, i, lineno in read_original_labels(source, protocol, report)
        )
    elif layout == "guid":
        if not os.path.isdir(data_dir) or data_dir == path and not glob.glob(os.path.join(path, "*.txt")):
            raise FileNotFoundError(f"{path}: no data/ folder with ID.jpg and ID.txt files")
        for name, split_name in GUID_FILES.items():
            source = os.path.join(path, name)
            if os.path.exists(source):
                splits[split_name] = _kept(
                    _post(g, label, data_dir, report, source, lineno)
                    for g, label, lineno in read_label_file(source, SENTIMENT_CLASSES, report)
                )
    elif layout == "json":
        splits = _read_json_layout(path, data_dir, report, text_source)
    else:
        raise ValueError(f"unknown MVSA layout {layout!r}: original, guid or json")
    notes = []
    if split in ("random", "paper002"):
        pool = [p for posts in splits.values() for p in posts]
        unlabelled = [p for p in pool if p.label is None]
        if split == "random":
            splits = stratified_split(pool, seed=seed)
            notes.append(f"split: seeded stratified 8:1:1 (split seed {seed})")
        else:
            own_test = [p for p in splits.get("test", []) if p.label is not None]
            rest = [p for name, posts in splits.items() if name != "test" for p in posts]
            splits, notes = paper002_split(rest if own_test else pool, seed, own_test=own_test or None)
        if unlabelled:
            splits["unlabelled"] = unlabelled
    elif split != "file":
        raise ValueError(f"split must be 'file', 'random' or 'paper002', got {split!r}")
    name = os.path.basename(os.path.normpath(path)) or "mvsa"
    return MultimodalDataset(name=name, class_names=SENTIMENT_CLASSES, splits=splits, notes=notes)
