"""The run directory: what a training run leaves behind, and how to reload it.

Layout of `RUN_DIR/`:
    run_config.json      the exact training settings (model, data, seed, ...)
    splits.json          post ids of every split, so evaluation uses the same test set
    preprocessing.json   image size, normalisation, per-channel mean/std
    tokenizer.json       tokenizer settings and vocabulary
    model.keras          the trained model (best weights)
    history.csv          CSVLogger output; training_curves.png
    data_report.json     bad input found while reading (counts and files)
    metrics.json         evaluation per split; confusion_matrix_<split>.png
    checkpoints/, backup/  ModelCheckpoint and BackupAndRestore state
"""

from __future__ import annotations

import json
import os

from data_pipelines.datasets import load_dataset
from data_pipelines.images import scan_images
from data_pipelines.post import MultimodalDataset
from data_pipelines.report import DataReport
from data_pipelines.splits import stratified_split


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def split_dataset(dataset: MultimodalDataset, seed: int) -> MultimodalDataset:
    """Keep the dataset's own train/validation/test splits, or make a seeded 8:1:1."""
    if {"train", "validation", "test"} <= set(dataset.splits):
        return dataset
    if "train" in dataset.splits and "test" in dataset.splits:
        inner = stratified_split(dataset.splits["train"], {"train": 0.9, "validation": 0.1}, seed)
        return MultimodalDataset(dataset.name, dataset.class_names,
                                 {**dataset.splits, "train": inner["train"], "validation": inner["validation"]})
    pool = [p for posts in dataset.splits.values() for p in posts]
    return MultimodalDataset(dataset.name, dataset.class_names, stratified_split(pool, seed=seed))


def load_split_data(data_dir: str, format: str, seed: int, report: DataReport,
                    splits_file: str | None = None, format_options=None,
                    verbose: bool = True) -> MultimodalDataset:
    """Read a dataset, split it (or re-apply saved splits) and check its images."""
    dataset = load_dataset(data_dir, format, report=report, **(format_options or {}))
    if splits_file and os.path.exists(splits_file):
        ids = read_json(splits_file)
        by_id = {p.id: p for p in dataset.all_posts()}
        missing = [i for split in ids.values() for i in split if i not in by_id]
        if missing:
            raise ValueError(f"{splits_file}: {len(missing)} post ids are not in {data_dir} "
                             f"(first: {missing[0]}); was the dataset changed?")
        dataset = MultimodalDataset(dataset.name, dataset.class_names,
                                    {name: [by_id[i] for i in split] for name, split in ids.items()})
    else:
        dataset = split_dataset(dataset, seed)
    scan_images([p for posts in dataset.splits.values() for p in posts], report, verbose=verbose)
    return dataset


def save_splits(path: str, dataset: MultimodalDataset) -> None:
    write_json(path, {name: [p.id for p in posts] for name, posts in dataset.splits.items()})
