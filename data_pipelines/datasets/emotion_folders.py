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
and agreement; `split="popularity"` makes paper 004's split: the top 10% of
all posts by upvotes (or agreement) are the test set, the next 10% the
validation set, the rest the training set ("for testing, we use the top 10%
posts with the highest number of upvotes ... the next 10% ... for validation").

Paper 004's Flickr filters (options): `min_agreement` keeps posts whose
`agreement` (workers agreeing on the class) is at least that; `min_words`
keeps posts whose title + description has more than that many words (the paper:
more than 5); `english=True` keeps posts whose text looks English (a
stop-word test, since the paper's language filter is not given: said in the
ledger). Dropped posts are counted.
"""

from __future__ import annotations

import json
import os

import numpy as np

from data_pipelines.datasets import register_reader
from data_pipelines.images import read_regular_file
from data_pipelines.post import MultimodalDataset, Post
from data_pipelines.report import DataReport
from data_pipelines.text_io import MAX_CAPTION_BYTES, read_caption

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp"}


ENGLISH_STOPWORDS = frozenset(
    "the a an and or of to in on at for with is are was were be been it this that my your our their his her "
    "i you we they he she me us them from by as not no so but if".split()
)


def looks_english(text: str) -> bool:
    """A stop-word test: at least one of every eight words (and two words at least) is an English stop word."""
    words = [w.strip(".,!?;:'\"()").lower() for w in text.split()]
    hits = sum(w in ENGLISH_STOPWORDS for w in words)
    return hits >= 2 and hits * 8 >= len(words)


def popularity_split(posts, num_classes=None, seed: int = 0):
    """Over all posts: top 10% by upvotes/agreement → test, the next 10% → validation, the rest → train.

    Posts with the same score are ordered by a seeded shuffle, not by id: Flickr's agreement is a small
    integer, so ties are everywhere, and an id begins with its class folder (ordering ties by id would fill
    the test split class by class)."""
    order = np.random.default_rng(seed).permutation(len(posts))
    tie = {id(p): int(order[i]) for i, p in enumerate(sorted(posts, key=lambda p: p.id))}
    ranked = sorted(posts, key=lambda p: (-(p.meta.get("upvotes") or p.meta.get("agreement") or 0), tie[id(p)]))
    tenth = max(1, round(len(ranked) * 0.1)) if len(ranked) >= 3 else 0
    return {"test": ranked[:tenth], "validation": ranked[tenth : 2 * tenth], "train": ranked[2 * tenth :]}


@register_reader("emotion_folders")
def read_emotion_folders(
    path: str,
    report: DataReport,
    class_names=None,
    split: str = "file",
    min_agreement: int | None = None,
    min_words: int | None = None,
    english: bool = False,
    seed: int = 0,
    **options,
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
            where = os.path.join(folder, stem)
            if min_agreement is not None and (meta.get("agreement") or 0) < min_agreement:
                report.add("dropped_row", where, f"agreement {meta.get('agreement')} below {min_agreement}")
                continue
            if min_words is not None and len((text or "").split()) <= min_words:
                report.add("dropped_row", where, f"{min_words} words of title and description or fewer")
                continue
            if english and not looks_english(text or ""):
                report.add("dropped_row", where, "title and description do not look English")
                continue
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
    notes = []
    if split == "popularity":
        splits = popularity_split(posts, len(class_names), seed)
        notes.append(
            f"popularity split over all posts: test = top 10% by upvotes/agreement "
            f"({len(splits['test'])}), validation = the next 10% ({len(splits['validation'])}); "
            f"equal scores ordered by a shuffle of seed {seed}"
        )
    elif split != "file":
        raise ValueError(f"split must be 'file' or 'popularity', got {split!r}")
    return MultimodalDataset(
        name=os.path.basename(os.path.normpath(path)), class_names=class_names, splits=splits, notes=notes
    )
