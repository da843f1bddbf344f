"""CrowdFlower "Image Sentiment Polarity" reader (`--format crowdflower`).

Targets the CrowdFlower (Figure Eight) "Data for Everyone" image sentiment
polarity CSV used by paper 000: one row per image with its URL (`imageurl`),
the aggregated judgement
(`which_of_these_sentiment_scores_does_the_above_image_fit_into_best`) and
its `:confidence`. Images are matched by the URL's file name in a local folder
(`images/` beside the CSV, or `image_dir=`); rows whose image is not there are
counted as missing images and skipped (the dataset is image-only).

The five judgements map onto three classes: "Highly positive" and "Positive" →
positive; "Neutral" → neutral; "Negative" and "Highly negative" → negative.
`min_confidence=` drops rows with a lower judgement confidence (counted).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from data_pipelines.datasets import register_reader
from data_pipelines.datasets.csv_utils import csv_header, csv_records, resolve_file
from data_pipelines.post import SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

JUDGEMENTS = {"highly positive": 2, "positive": 2, "neutral": 1, "negative": 0, "highly negative": 0}
JUDGEMENT_COLUMN = "which_of_these_sentiment_scores_does_the_above_image_fit_into_best"


@register_reader("crowdflower")
def read_crowdflower(
    path: str, report: DataReport, image_dir: str | None = None, min_confidence: float = 0.0, **options
) -> MultimodalDataset:
    file = resolve_file(path)
    base = os.path.dirname(os.path.abspath(file))
    image_dir = image_dir or next(
        (os.path.join(base, d) for d in ("images", "image", "data") if os.path.isdir(os.path.join(base, d))), base
    )
    posts, seen = [], set()
    header = csv_header(file)
    judgement_col = next((h for h in header if h == JUDGEMENT_COLUMN or h in ("sentiment", "label")), None)
    if "imageurl" not in header or judgement_col is None:
        raise ValueError(f"{file}:1: expected columns imageurl and {JUDGEMENT_COLUMN}, got {header}")
    conf_col = f"{judgement_col}:confidence"
    for lineno, row in csv_records(file, report):
        judgement = row[judgement_col].strip().lower()
        if judgement not in JUDGEMENTS:
            report.add(
                "unknown_label", file, f"judgement {row[judgement_col]!r} is not one of {sorted(JUDGEMENTS)}", lineno
            )
            continue
        confidence = float(row.get(conf_col) or 1.0)
        if confidence < min_confidence:
            report.add("dropped_row", file, f"confidence {confidence} < {min_confidence}", lineno)
            continue
        name = os.path.basename(urlparse(row["imageurl"].strip()).path)
        pid = row.get("_unit_id") or os.path.splitext(name)[0] or str(lineno)
        if pid in seen:
            report.add("duplicate_id", file, f"id {pid!r} repeated", lineno)
            continue
        seen.add(pid)
        image = os.path.join(image_dir, name) if name else ""
        if not name or not os.path.exists(image):
            report.add("missing_image", image or file, f"not downloaded (listed at {file}:{lineno})")
            continue
        posts.append(
            Post(
                id=pid,
                text=None,
                image_path=image,
                label=JUDGEMENTS[judgement],
                meta={
                    "source": file,
                    "line": lineno,
                    "judgement": row[judgement_col].strip(),
                    "confidence": confidence,
                    "url": row["imageurl"].strip(),
                },
            )
        )
    return MultimodalDataset(name="crowdflower_image_polarity", class_names=SENTIMENT_CLASSES, splits={"all": posts})
