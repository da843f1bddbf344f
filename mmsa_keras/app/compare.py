"""`mmsa compare A B`: two runs (training runs or baseline folders) on the same posts, paired.

Both are evaluated on one list of posts: the test split (or `--split`) of A's own
data, which must be the same posts in B's own data (runs trained on the same
data with the same split seed), or the posts of `--data-dir`. The difference of
each metric (A - B) comes with its paired bootstrap 95% interval (the same
resamples of posts for both: `mmsa_keras.uncertainty.paired_bootstrap`) and the
exact McNemar p-value of the posts exactly one of them gets right. A baseline
folder (`mmsa baseline ... --out DIR`) is fitted again on its own training split
(seconds, deterministic) rather than loaded from a file.
"""

from __future__ import annotations

import copy
import os

import numpy as np

from mmsa_keras.app.baseline_runs import BASELINE_CONFIG, baseline_probabilities, load_baseline
from mmsa_keras.app.runs import RUN_CONFIG, Run, load_split_data, read_dataset
from mmsa_keras.errors import DataError, UsageError
from mmsa_keras.uncertainty import METRICS, mcnemar_exact, paired_bootstrap


class _Side:
    """One of the two things compared: a training run or a baseline folder."""

    def __init__(self, directory: str):
        self.directory = directory
        if os.path.exists(os.path.join(directory, BASELINE_CONFIG)):
            self.baseline = load_baseline(directory)
            self.run = None
            self.class_names = list(self.baseline["class_names"])
            self.name = f"{self.baseline['kind']} ({directory})"
        elif os.path.exists(os.path.join(directory, RUN_CONFIG)) or not os.path.isdir(directory):
            self.run = Run(directory)  # raises the usual one-line errors
            self.run.require_model()
            self.baseline = None
            self.class_names = list(self.run.class_names)
            self.name = f"{self.run.plan.model} ({directory})"
        else:
            raise UsageError(f"{directory}: neither a training run nor a baseline folder")

    @property
    def format(self) -> str:
        """The dataset format this side was trained on (the default for `--data-dir`)."""
        return self.run.plan.data.format if self.run is not None else self.baseline["format"]

    def own_posts(self, split: str):
        if self.run is not None:
            dataset = self.run.dataset(verbose=False)
        else:
            b = self.baseline
            dataset = load_split_data(b["data_dir"], b["format"], b["seed"], format_options=b["format_options"])
        if split == "all":
            return [p for name in sorted(dataset.splits) for p in dataset.labelled(name)]
        if split not in dataset.splits or not dataset.labelled(split):
            raise DataError(f"{self.directory}: no labelled posts in split {split!r}")
        return dataset.labelled(split)

    def predict(self, posts) -> np.ndarray:
        if self.run is not None:
            return self.run.predict(posts)[1]

        return baseline_probabilities(self.baseline, posts)[0]


def _posts_of(data_dir: str, format: str, split: str, format_options) -> tuple[list, list[str]]:
    dataset, _, _ = read_dataset(data_dir, format, format_options, verbose=False)
    if split == "all":
        posts = [p for p in dataset.all_posts() if p.label is not None]
    elif split in dataset.splits:
        posts = dataset.labelled(split)
    else:
        raise DataError(f"{data_dir} has no {split!r} split (it has {', '.join(sorted(dataset.splits))}, or all)")
    if not posts:
        raise DataError(f"{data_dir}: no labelled posts in split {split!r}")
    return posts, list(dataset.class_names)


def compare(
    dir_a: str,
    dir_b: str,
    data_dir: str | None = None,
    format: str | None = None,
    split: str = "test",
    format_options=None,
    resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """The paired comparison of A and B (see the module docstring) as a JSON-ready dict."""
    a, b = _Side(dir_a), _Side(dir_b)
    if a.class_names != b.class_names:
        raise DataError(f"the two predict different classes ({a.class_names} vs {b.class_names})")
    if data_dir:
        posts, names = _posts_of(data_dir, format or a.format, split, format_options)
        missing = [n for n in names if n not in a.class_names]
        if missing:
            raise DataError(f"{data_dir} has the class {missing[0]!r}, which the runs do not predict")
        posts = [copy.copy(p) for p in posts]
        for p in posts:
            p.label = a.class_names.index(names[p.label])
        where = f"{data_dir} ({split})"
    else:
        posts = a.own_posts(split)
        other = {p.id for p in b.own_posts(split)}
        if {p.id for p in posts} != other:
            common = len(other & {p.id for p in posts})
            raise DataError(
                f"the {split} splits of {dir_a} and {dir_b} are not the same posts ({len(posts)} and {len(other)}, "
                f"{common} in common): compare them on one dataset with --data-dir D --format F"
            )
        where = f"the {split} split of {a.name.split(' (')[0]}'s data"
    y_true = np.array([p.label for p in posts])
    pred_a, pred_b = a.predict(posts).argmax(-1), b.predict(posts).argmax(-1)
    out = paired_bootstrap(y_true, pred_a, pred_b, len(a.class_names), resamples=resamples, seed=seed)
    out["mcnemar"] = mcnemar_exact(y_true, pred_a, pred_b)
    out.update(a=a.name, b=b.name, posts=where)
    return out


def format_comparison(result: dict) -> str:
    lines = [
        f"A: {result['a']}",
        f"B: {result['b']}",
        f"on {result['n']} posts of {result['posts']}; differences A - B with paired 95% bootstrap intervals "
        f"({result['resamples']} resamples of the posts)",
        "",
        "| metric | A | B | A - B | 95% interval | interval excludes 0 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in METRICS:
        r = result[m]
        lo, hi = r["interval"]
        lines.append(
            f"| {m.replace('_', ' ')} | {100 * r['a']:.2f} | {100 * r['b']:.2f} | {100 * r['difference']:+.2f} | "
            f"[{100 * lo:+.2f}, {100 * hi:+.2f}] | {'yes' if r['excludes_zero'] else 'no'} |"
        )
    mc = result["mcnemar"]
    lines += [
        "",
        f"exact McNemar test: {mc['only_a_right']} posts only A gets right, {mc['only_b_right']} only B; "
        f"p = {mc['p_value']:.4g}",
    ]
    if not any(result[m]["excludes_zero"] for m in METRICS):
        lines.append("no difference is distinguishable from noise on these posts")
    return "\n".join(lines)
