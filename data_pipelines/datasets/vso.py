"""Flickr VSO (Borth et al. 2013) and MVSO English (Jou et al. 2015) reader (`--format vso`).

Expected layout (how both releases are organised once downloaded: images
grouped by adjective-noun pair, per-image Flickr metadata, ANP sentiment
scores):

    ROOT/anp_sentiment.csv          anp,sentiment   (e.g. "beautiful_sky,1.52")
    ROOT/images/<ANP>/<ID>.jpg      one folder per ANP
    ROOT/metadata.csv               id,anp,title,description,tags

Labels follow paper 003, section 4.1.2: ANP score > 0.034 positive,
< -0.034 negative, else neutral; with `num_classes=2` the neutral posts are
dropped (counted). The post text is "title. description" (paper 003), and
`min_words=10` keeps only posts with at least that many words of text (the
paper's filter; 0 disables it; dropped posts are counted). Each post's `meta`
holds `anp`, `anp_score` and `tags`.
"""

from __future__ import annotations

import glob
import os

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_records
from data_pipelines.post import SENTIMENT_CLASSES, SENTIMENT_CLASSES_2, MultimodalDataset, Post
from data_pipelines.report import DataReport

THRESHOLD = 0.034


def anp_label(score: float, num_classes: int = 3) -> int | None:
    """Paper 003's thresholds; None for a neutral ANP in the 2-class setting."""
    if score > THRESHOLD:
        return 2 if num_classes == 3 else 1
    if score < -THRESHOLD:
        return 0
    return 1 if num_classes == 3 else None


@register_reader("vso")
def read_vso(path: str, report: DataReport, num_classes: int = 3, min_words: int = 10, **options) -> MultimodalDataset:
    if num_classes not in (2, 3):
        raise ValueError("num_classes must be 2 or 3")
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
        label = anp_label(scores[anp], num_classes)
        if label is None:
            report.add("dropped_row", meta_file, "neutral ANP in the 2-class setting", lineno)
            continue
        if pid in seen:
            report.add("duplicate_id", meta_file, f"id {pid!r} repeated", lineno)
            continue
        seen.add(pid)
        title, description = row.get("title", "").strip(), row.get("description", "").strip()
        text = " ".join(f"{title}. {description}".split()) if description else " ".join(title.split())
        if min_words and len(text.split()) < min_words:
            report.add("dropped_row", meta_file, f"fewer than {min_words} words of text", lineno)
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
    classes = SENTIMENT_CLASSES if num_classes == 3 else SENTIMENT_CLASSES_2
    return MultimodalDataset(
        name=os.path.basename(os.path.normpath(path)) or "vso", class_names=classes, splits={"all": posts}
    )
