"""Twitter sentiment CSV reader (`--format twitter_csv`).

Targets "Twitter and Reddit Sentimental analysis Dataset" by Hussein (2021),
file `Twitter_Data.csv`: columns `clean_text,category` with category -1, 0, 1
(negative, neutral, positive → our ids 0, 1, 2). Quoted fields may span
lines; rows with an empty text or category are dropped and counted. Text only:
no post has an image.
"""

from __future__ import annotations

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_header, csv_records, resolve_file
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

CATEGORY = {"-1": 0, "0": 1, "1": 2, "-1.0": 0, "0.0": 1, "1.0": 2}


@register_reader("twitter_csv")
def read_twitter_csv(path: str, report: DataReport, **options) -> MultimodalDataset:
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
    return MultimodalDataset(name="twitter_sentiment", class_names=SENTIMENT_CLASSES, splits={"all": posts})
