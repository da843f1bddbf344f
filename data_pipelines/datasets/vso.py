"""Flickr VSO (Borth et al. 2013) and MVSO English (Jou et al. 2015) reader (`--format vso`).

Expected layout (how both releases are organised once downloaded: images
grouped by adjective-noun pair, per-image Flickr metadata, ANP sentiment
scores):

    ROOT/anp_sentiment.csv          anp,sentiment   (e.g. "beautiful_sky,1.52")
    ROOT/images/<ANP>/<ID>.jpg      one folder per ANP
    ROOT/metadata.csv               id,anp,title,description,tags

Labels follow paper 003, section 4.1.2: ANP score > 0.034 positive,
< -0.034 negative, else neutral; with `num_classes=2` the neutral posts are
dropped (counted). Tables 1–4 of paper 003 were labelled from the text by a
sentiment service instead (section 4.1.1): `label_file=PATH` (a CSV `id,label`
with a class name or a score; a score is thresholded like an ANP score) gives
such externally scored labels, and `balance_per_class=N` subsamples every class
to N posts, seeded (the paper balanced to about 5K per class). The post text
is "title. description" (paper 003); `min_words=10` keeps only posts whose
title, description and tags together have at least that many words (the
paper's filter; 0 disables it; dropped posts are counted). `split="random"`
with `split_fractions=[0.7, 0.2, 0.1]` makes the paper's 70/20/10 split. Each
post's `meta` holds `anp`, `anp_score` and `tags`.
"""

from __future__ import annotations

import glob
import os

import numpy as np

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_records
from data_pipelines.post import SENTIMENT_CLASSES, SENTIMENT_CLASSES_2, MultimodalDataset, Post
from data_pipelines.report import DataReport
from data_pipelines.splits import stratified_split

THRESHOLD = 0.034


def anp_label(score: float, num_classes: int = 3) -> int | None:
    """Paper 003's thresholds; None for a neutral ANP in the 2-class setting."""
    if score > THRESHOLD:
        return 2 if num_classes == 3 else 1
    if score < -THRESHOLD:
        return 0
    return 1 if num_classes == 3 else None


def _read_label_file(path: str, classes: tuple, num_classes: int, report: DataReport) -> dict[str, int | None]:
    out = {}
    for lineno, row in csv_records(path, report):
        pid, raw = row.get("id", "").strip(), (row.get("label") or row.get("score") or "").strip()
        if not pid or not raw:
            report.add("bad_row", path, "expected id,label (or id,score)", lineno)
            continue
        if raw.lower() in classes:
            out[pid] = classes.index(raw.lower())
            continue
        try:
            out[pid] = anp_label(float(raw), num_classes)
        except ValueError:
            report.add(
                "unknown_label", path, f"label {raw!r} is neither a class ({', '.join(classes)}) nor a score", lineno
            )
    return out


@register_reader("vso")
def read_vso(
    path: str,
    report: DataReport,
    num_classes: int = 3,
    min_words: int = 10,
    label_file: str | None = None,
    balance_per_class: int | None = None,
    split: str = "file",
    split_fractions=None,
    seed: int = 0,
    **options,
) -> MultimodalDataset:
    if num_classes not in (2, 3):
        raise ValueError("num_classes must be 2 or 3")
    classes = SENTIMENT_CLASSES if num_classes == 3 else SENTIMENT_CLASSES_2
    external = _read_label_file(label_file, classes, num_classes, report) if label_file else None
    scores_file = os.path.join(path, "anp_sentiment.csv")
    meta_file = os.path.join(path, "metadata.csv")
    for f in (scores_file, meta_file):
        if not os.path.exists(f):
            raise FileNotFoundError(f"{f}: missing (see the VSO/MVSO layout in the README)")
    scores = {}
    for lineno, row in csv_records(scores_file, report):
        try:
            scores[row["anp"].strip()] = float(row["sentiment"])
        except (KeyError, ValueError):
            report.add("bad_row", scores_file, "expected anp,sentiment with a numeric score", lineno)
    posts, seen = [], set()
    for lineno, row in csv_records(meta_file, report):
        pid, anp = row.get("id", "").strip(), row.get("anp", "").strip()
        if anp not in scores:
            report.add("unknown_label", meta_file, f"ANP {anp!r} has no sentiment score", lineno)
            continue
        if external is not None:
            if pid not in external:
                report.add("dropped_row", meta_file, f"post {pid} has no label in {label_file}", lineno)
                continue
            label = external[pid]
        else:
            label = anp_label(scores[anp], num_classes)
        if label is None:
            report.add("dropped_row", meta_file, "neutral in the 2-class setting", lineno)
            continue
        if pid in seen:
            report.add("duplicate_id", meta_file, f"id {pid!r} repeated", lineno)
            continue
        seen.add(pid)
        title, description = row.get("title", "").strip(), row.get("description", "").strip()
        text = " ".join(f"{title}. {description}".split()) if description else " ".join(title.split())
        tags = " ".join(row.get("tags", "").replace(",", " ").split())
        if min_words and len(f"{text} {tags}".split()) < min_words:
            report.add("dropped_row", meta_file, f"fewer than {min_words} words of title, description and tags", lineno)
            continue
        matches = glob.glob(os.path.join(path, "images", anp, pid + ".*"))
        image = matches[0] if matches else None
        if image is None:
            report.add(
                "missing_image", os.path.join(path, "images", anp, pid + ".jpg"), f"listed at {meta_file}:{lineno}"
            )
        posts.append(
            Post(
                id=pid,
                text=text or None,
                image_path=image,
                label=label,
                meta={
                    "anp": anp,
                    "anp_score": scores[anp],
                    "tags": row.get("tags", ""),
                    "source": meta_file,
                    "line": lineno,
                },
            )
        )
    notes = [f"labels from {label_file}" if label_file else "labels from the ANP sentiment scores (±0.034)"]
    if balance_per_class:
        posts = _subsample_classes(posts, num_classes, balance_per_class, seed, notes)
    splits = {"all": posts}
    if split == "random":
        fractions = list(split_fractions or (0.8, 0.1, 0.1))
        splits = stratified_split(posts, dict(zip(("train", "validation", "test"), fractions)), seed=seed)
        notes.append("split: seeded stratified " + "/".join(f"{round(100 * f)}" for f in fractions) + f" (seed {seed})")
    elif split != "file":
        raise ValueError(f"split must be 'file' or 'random', got {split!r}")
    return MultimodalDataset(
        name=os.path.basename(os.path.normpath(path)) or "vso", class_names=classes, splits=splits, notes=notes
    )


def _subsample_classes(posts, num_classes: int, per_class: int, seed: int, notes: list) -> list:
    """At most `per_class` posts of each class, drawn with `seed` (said in `notes`), in id order."""
    rng = np.random.default_rng(seed)
    kept = []
    for label in range(num_classes):
        group = [p for p in posts if p.label == label]
        if len(group) > per_class:
            group = [group[i] for i in sorted(rng.choice(len(group), per_class, replace=False))]
        kept += group
    notes.append(
        f"classes subsampled to at most {per_class} posts each (seed {seed}): {len(kept)} of {len(posts)} posts"
    )
    return sorted(kept, key=lambda p: p.id)
