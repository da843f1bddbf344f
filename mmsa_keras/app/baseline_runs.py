"""Classical baselines on the same splits and metrics as `mmsa train` (`mmsa baseline`, reproduce rows).

`fit_and_evaluate(kind, dataset, split, seed, params)` fits the baseline on the
dataset's train split (only the posts that have the modality it reads) and
evaluates it on `split` with the same metrics as a trained run. The splits are
those `mmsa train --seed S` draws for the same data, so a baseline is directly
comparable with a run trained with that seed.
"""

from __future__ import annotations

import os

import numpy as np

from data_pipelines.outputs import claim_output_dir
from mmsa_keras.app.evaluation import compute_metrics, format_metrics, plot_confusion_matrix
from mmsa_keras.app.jsonfiles import read_json, write_json
from mmsa_keras.app.runs import load_split_data
from mmsa_keras.baselines import PixelRandomForest, TfidfSVM
from mmsa_keras.errors import DataError, UsageError

KINDS = {
    "tfidf-svm": "tfidf_svm",
    "tfidf_svm": "tfidf_svm",
    "random-forest": "random_forest",
    "random_forest": "random_forest",
}


def make_baseline(kind: str, seed: int, params: dict | None = None):
    kind = KINDS[kind]
    params = dict(params or {})
    if kind == "random_forest":
        return PixelRandomForest(seed=seed, **params)
    return TfidfSVM(seed=seed, **params)


def fit_and_evaluate(
    kind: str,
    dataset,
    split: str,
    seed: int,
    params: dict | None = None,
    out_dir: str | None = None,
    verbose: bool = False,
) -> dict | None:
    """Metrics of the baseline on `split`, or None when no post has the modality it reads."""
    kind = KINDS[kind]
    has = (lambda p: p.has_image) if kind == "random_forest" else (lambda p: p.has_text)
    train_posts = [p for p in dataset.labelled("train") if has(p)]
    eval_posts = [p for p in dataset.labelled(split) if has(p)]
    if not train_posts or not eval_posts:
        return None
    model = make_baseline(kind, seed, params)
    model.fit(train_posts)
    probs = model.predict_proba(eval_posts, dataset.num_classes)
    metrics = compute_metrics([p.label for p in eval_posts], probs, dataset.class_names)
    metrics["best_params"] = {
        k: (v if isinstance(v, (int, float, str)) or v is None else str(v)) for k, v in model.best_params.items()
    }
    metrics["posts_without_the_modality_left_out"] = len(dataset.labelled(split)) - len(eval_posts)
    metrics["split"] = split
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        plot_confusion_matrix(
            metrics["confusion_matrix"],
            dataset.class_names,
            os.path.join(out_dir, f"confusion_matrix_{split}.png"),
            f"{kind} on {dataset.name}: {split} (acc {metrics['accuracy']:.3f})",
        )
        write_json(os.path.join(out_dir, "metrics.json"), {split: metrics})
    if verbose:
        print(f"[{split}] " + format_metrics(metrics))
    return metrics


def run_baseline_cli(
    kind: str,
    data_dir: str,
    fmt: str,
    format_options: dict,
    seed: int = 0,
    split: str = "test",
    out: str | None = None,
    verbose: bool = True,
    params: dict | None = None,
) -> dict:
    dataset = load_split_data(data_dir, fmt, seed, format_options=format_options, verbose=verbose)
    if split not in dataset.splits:
        raise DataError(f"{data_dir}: no split {split!r} (splits: {', '.join(sorted(dataset.splits))})")
    if verbose:
        for note in dataset.notes:
            print(f"[data] {note}")
    if out:
        claim_output_dir(out, "baseline")  # new, empty or an earlier baseline folder
    metrics = fit_and_evaluate(kind, dataset, split, seed, params, out, verbose)
    if metrics is None:
        what = "an image" if KINDS[kind] == "random_forest" else "text"
        raise DataError(f"{data_dir}: no post has {what}; the {kind} baseline cannot run on it")
    if out:  # what `mmsa compare` needs to fit it again (no model file: a fit takes seconds, and no pickle)
        write_json(
            os.path.join(out, BASELINE_CONFIG),
            {
                "kind": KINDS[kind],
                "data_dir": os.path.abspath(data_dir),
                "format": fmt,
                "format_options": format_options,
                "seed": seed,
                "split": split,
                "params": params or {},
                "class_names": list(dataset.class_names),
            },
        )
    return metrics


BASELINE_CONFIG = "baseline_config.json"


def load_baseline(directory: str) -> dict:
    """The record `mmsa baseline --out DIR` wrote (for `mmsa compare`)."""
    path = os.path.join(directory, BASELINE_CONFIG)
    if not os.path.exists(path):
        raise UsageError(
            f"{directory}: not a baseline folder (no {BASELINE_CONFIG}); write one with `mmsa baseline ... --out`"
        )
    return read_json(path)


def baseline_probabilities(record: dict, posts, verbose: bool = False):
    """Fit the recorded baseline again on its own training split and predict `posts` (`[N, C]`, a zero row
    for a post without the modality it reads)."""
    dataset = load_split_data(
        record["data_dir"], record["format"], record["seed"], format_options=record["format_options"], verbose=verbose
    )
    kind = record["kind"]
    has = (lambda p: p.has_image) if kind == "random_forest" else (lambda p: p.has_text)
    model = make_baseline(kind, record["seed"], record["params"])
    model.fit([p for p in dataset.labelled("train") if has(p)])
    probs = np.zeros((len(posts), dataset.num_classes), np.float32)
    usable = [i for i, p in enumerate(posts) if has(p)]
    if usable:
        probs[usable] = model.predict_proba([posts[i] for i in usable], dataset.num_classes)
    return probs, list(dataset.class_names)
