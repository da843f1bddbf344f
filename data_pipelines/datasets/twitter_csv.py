"""Twitter sentiment CSV reader (`--format twitter_csv`).

Targets "Twitter and Reddit Sentimental analysis Dataset" by Hussein (2021),
file `Twitter_Data.csv`: columns `clean_text,category` with category -1, 0, 1
(negative, neutral, positive → our ids 0, 1, 2). Quoted fields may span
lines; rows with an empty text or category are dropped and counted. Text only:
no post has an image.
"""

from __future__ import annotations

import numpy as np

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_header, csv_records, resolve_file
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

CATEGORY = {"-1": 0, "0": 1, "1": 2, "-1.0": 0, "0.0": 1, "1.0": 2}


@register_reader("twitter_csv")
def read_twitter_csv(
    path: str, report: DataReport, subsample: int | None = None, seed: int = 0, **options
) -> MultimodalDataset:
    """The Twitter sentiment CSV (`clean_text,category`). `subsample=N` keeps N rows drawn uniformly
    with `seed` (paper 000, section 3.2: "only 8000 were used"), in file order; the rest are counted."""
    file = resolve_file(path)
    header = csv_header(file)
    if "clean_text" not in header or "category" not in header:
        raise ValueError(f"{file}:1: expected the header clean_text,category, got {header}")
    posts = []
    for lineno, row in csv_records(file, report):
        text, category = " ".join(row["clean_text"].split()), row["category"].strip()
        if not text or not category:
            report.add("dropped_row", file, "empty " + ("text" if not text else "category"), lineno)
            continue
        if category not in CATEGORY:
            report.add("unknown_label", file, f"category {category!r} is not -1, 0 or 1", lineno)
            continue
        posts.append(
            Post(
                id=str(lineno),
                text=text,
                image_path=None,
                label=CATEGORY[category],
                meta={"source": file, "line": lineno},
            )
        )
    notes = []
    if subsample is not None and 0 < int(subsample) < len(posts):
        keep = np.sort(np.random.default_rng(seed).choice(len(posts), int(subsample), replace=False))
        notes.append(f"{int(subsample)} of the {len(posts)} rows drawn (seed {seed}; the rest left out)")
        posts = [posts[i] for i in keep]
    return MultimodalDataset(
        name="twitter_sentiment", class_names=SENTIMENT_CLASSES, splits={"all": posts}, notes=notes
    )
