"""Seeded, stratified splits of a list of posts."""

from __future__ import annotations

import numpy as np

from data_pipelines.post import MultimodalDataset, Post


def stratified_split(
    posts: list[Post],
    fractions: dict[str, float] | None = None,
    seed: int = 0,
) -> dict[str, list[Post]]:
    """Split labelled posts per class in the given fractions (default 8:1:1).

    Every class is shuffled with `seed` and cut in the same proportions, so each
    split keeps the class balance. Unlabelled posts go to a split named
    "unlabelled" when there are any.
    """
    fractions = fractions or {"train": 0.8, "validation": 0.1, "test": 0.1}
    names = list(fractions)
    total = sum(fractions.values())
    rng = np.random.default_rng(seed)
    out: dict[str, list[Post]] = {name: [] for name in names}
    labels = sorted({p.label for p in posts if p.label is not None})
    for label in labels:
        group = [p for p in posts if p.label == label]
        order = rng.permutation(len(group))
        cuts = np.cumsum([fractions[n] / total for n in names])[:-1]
        bounds = [0, *np.round(cuts * len(group)).astype(int).tolist(), len(group)]
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
            out[name].extend(group[j] for j in order[lo:hi])
    for name in names:  # interleave classes deterministically
        out[name].sort(key=lambda p: (p.id,))
    unlabelled = [p for p in posts if p.label is None]
    if unlabelled:
        out["unlabelled"] = unlabelled
    return out


def split_dataset(dataset, seed: int, test: bool = True):
    """Keep the dataset's own train/validation/test splits, or make a seeded split.

    A dataset with all three splits is kept as it is; one with train and test
    gets a stratified 9:1 validation part cut from its train split (the test
    split is never touched); anything else is pooled and split 8:1:1, or 9:1
    into train and validation alone with `test=False` (every post but the
    validation tenth trains the model; it is evaluated on other data).
    """
    if {"train", "validation", "test"} <= set(dataset.splits):
        return dataset
    if "train" in dataset.splits and "test" in dataset.splits:
        inner = stratified_split(dataset.splits["train"], {"train": 0.9, "validation": 0.1}, seed)
        return MultimodalDataset(
            dataset.name,
            dataset.class_names,
            {**dataset.splits, "train": inner["train"], "validation": inner["validation"]},
            dataset.notes
            + ["validation split: a seeded stratified tenth of the dataset's own train split (its test split kept)"],
        )
    pool = [p for posts in dataset.splits.values() for p in posts]
    if not test:
        return MultimodalDataset(
            dataset.name,
            dataset.class_names,
            stratified_split(pool, {"train": 0.9, "validation": 0.1}, seed),
            dataset.notes + [f"split: seeded stratified 9:1 train/validation, no test split (split seed {seed})"],
        )
    return MultimodalDataset(
        dataset.name,
        dataset.class_names,
        stratified_split(pool, seed=seed),
        dataset.notes + [f"split: seeded stratified 8:1:1 (split seed {seed})"],
    )
