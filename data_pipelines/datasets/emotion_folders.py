"""Flickr emotion (You et al. 2016) and Reddit emotion (paper 004) reader (`--format emotion_folders`).

Layout: one folder per class, in any order (class names sorted, or given by
`class_names=`); inside, images and, optionally, per image `<stem>.txt` (the
text: title and description) and/or `<stem>.json` with any of `title`,
`description`, `upvotes`, `agreement`:

    ROOT/amusement/1234.jpg  ROOT/amusement/1234.json  ...
    ROOT/fear/...

You et al.'s Flickr set has 8 emotions (amusement, anger, awe, contentment,
disgust, excitement, fear, sadness) labelled by 5 AMT workers; paper 004's
Reddit set has 4 subreddits (happy, creepy, gore, rage). `meta` keeps upvotes
and agreement; `split="popularity"` makes paper 004's split: per class, the
top 10% posts by upvotes (or agreement) are the test set, the next 10% the
validation set, the rest the training set.
"""

from __future__ import annotations

import json
import os

from data_pipelines.datasets import register_reader
from data_pipelines.images import read_regular_file
from data_pipelines.post import MultimodalDataset, Post
from data_pipelines.report import DataReport
from data_pipelines.text_io import MAX_CAPTION_BYTES, read_caption

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp"}


def popularity_split(posts, num_classes):
    """Per class: top 10% by upvotes/agreement → test, next 10% → validation."""
    out = {"train": [], "validation": [], "test": []}
    for label in range(num_classes):
        group = sorted(
            (p for p in posts if p.label == label),
            key=lambda p: (-(p.meta.get("upvotes") or p.meta.get("agreement") or 0), p.id),
        )
        tenth = max(1, round(len(group) * 0.1)) if len(group) >= 3 else 0
        out["test"] += group[:tenth]
        out["validation"] += group[tenth : 2 * tenth]
        out["train"] += group[2 * tenth :]
    return out


@register_reader("emotion_folders")
def read_emotion_folders(
    path: str, report: DataReport, class_names=None, split: str = "file", **options
) -> MultimodalDataset:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder")
    folders = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    class_names = tuple(class_names or folders)
    if not class_names:
        raise FileNotFoundError(f"{path}: no class folders")
    posts = []
    for label, name in enumerate(class_names):
        folder = os.path.join(path, name)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: class folder missing")
        files = sorted(os.listdir(folder))
        stems = {os.path.splitext(f)[0] for f in files}
        for stem in sorted(stems):
            images = [
                f
                for f in files
                if os.path.splitext(f)[0] == stem and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS
            ]
            meta: dict = {"source": folder}
            text = None
            meta_path = os.path.join(folder, stem + ".json")
            if os.path.lexists(meta_path):
                raw, problem = read_regular_file(meta_path, MAX_CAPTION_BYTES)
                try:
                    if problem is not None:
                        raise ValueError(f"the path is {problem}")
                    record = json.loads(raw[:MAX_CAPTION_BYTES].decode("utf-8-sig"))
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                    text = " ".join(f"{record.get('title', '')} {record.get('description', '')}".split()) or None
                    for key in ("upvotes", "agreement"):
                        if key in record:
                            meta[key] = record[key]
                except (ValueError, UnicodeDecodeError) as e:
                    report.add("bad_row", meta_path, f"unreadable metadata: {e}")
            if text is None and os.path.exists(os.path.join(folder, stem + ".txt")):
                text = read_caption(os.path.join(folder, stem + ".txt"), report)
            if not images:
                report.add("missing_image", os.path.join(folder, stem + ".jpg"), "text or metadata without an image")
            posts.append(
                Post(
                    id=f"{name}/{stem}",
                    text=text,
                    image_path=os.path.join(folder, images[0]) if images else None,
                    label=label,
                    meta=meta,
                )
            )
    splits = {"all": posts}
    if split == "popularity":
        splits = popularity_split(posts, len(class_names))
    elif split != "file":
        raise ValueError(f"split must be 'file' or 'popularity', got {split!r}")
    return MultimodalDataset(name=os.path.basename(os.path.normpath(path)), class_names=class_names, splits=splits)
