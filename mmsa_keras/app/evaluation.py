"""Accuracy, per-class precision/recall/F1, weighted and macro F1, confusion matrices."""

from __future__ import annotations

import csv
import os
import textwrap
import weakref

import numpy as np
import tensorflow as tf
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from data_pipelines.progress import Progress
from mmsa_keras.app.jsonfiles import read_json, write_json
from mmsa_keras.calibration import calibration_metrics
from mmsa_keras.figures import subplots
from mmsa_keras.models.base import class_scores
from mmsa_keras.uncertainty import bootstrap_intervals, format_interval


def compute_metrics(y_true, y_prob, class_names) -> dict:
    """All the metrics the papers report, from integer labels and probabilities.

    Returns a JSON-ready dict: `accuracy`, `per_class` (precision, recall, f1,
    support per class name), `weighted` and `macro` averages, `micro_f1` and
    `confusion_matrix` (rows = true class, columns = predicted).
    """
    y_true = np.asarray(y_true).astype(int)
    y_prob = np.asarray(y_prob)
    y_pred = y_prob.argmax(axis=-1) if y_prob.ndim == 2 else y_prob.astype(int)
    labels = list(range(len(class_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "num_examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": list(class_names),
    }
    for average in ("weighted", "macro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    out["micro_f1"] = float(
        precision_recall_fscore_support(y_true, y_pred, labels=labels, average="micro", zero_division=0)[2]
    )
    if len(y_true):  # 95% intervals of accuracy, weighted and macro F1 (bootstrap over these posts, seeded)
        out["intervals"] = bootstrap_intervals(y_true, y_pred, len(class_names))
    # per post, in the order evaluated: what a paired comparison of two models on the same posts needs
    out["predictions"] = {"y_true": y_true.tolist(), "y_pred": np.asarray(y_pred).astype(int).tolist()}
    if y_prob.ndim == 2:  # and each post's class probabilities (ensembles, calibration), 5 decimals
        out["predictions"]["y_prob"] = np.round(y_prob.astype(np.float64), 5).tolist()
        if len(y_true):  # how far the confidences are from the accuracies (ECE, 15 bins), NLL, Brier
            out["calibration"] = calibration_metrics(y_prob, y_true)
    return out


_SCORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def predict_dataset(model, dataset, verbose=1):
    """Run `model` over a `(inputs, labels[, weights])` dataset; returns `(y_true, y_prob)`."""
    scores = _SCORES.get(model)  # one traced function per model: the validation and test splits share it
    if scores is None:
        ref = weakref.ref(model)  # the function must not keep the model (the cache's key) alive

        @tf.function(reduce_retracing=True)
        def scores(inputs):
            return tf.cast(class_scores(ref()(inputs, training=False)), tf.float32)

        _SCORES[model] = scores
    labels, probs = [], []
    n = int(dataset.cardinality().numpy())
    bar = Progress(n if n > 0 else None, "Predicting", unit="batch") if verbose else None
    for batch in dataset:
        probs.append(scores(batch[0]).numpy())
        labels.append(np.asarray(batch[1]))
        if bar is not None:
            bar.add(1)
    if bar is not None:
        bar.close()
    return np.concatenate(labels), np.concatenate(probs)


def plot_confusion_matrix(matrix, class_names, path: str, title: str = "") -> str:
    """Save a confusion matrix (counts, row-normalised colour) as a PNG; the title wraps, never clips."""

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(3.5, 0.9 * len(class_names) + 1.5)
    fig, ax = subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")

    ax.set_title("\n".join(textwrap.wrap(title, width=int(9 * size))), fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def plot_history(history_csv: str, path: str, title: str = "") -> str | None:
    """Plot loss, accuracy and (when logged) macro F1 per epoch, training and validation, from a CSVLogger file."""

    if not os.path.exists(history_csv):
        return None
    with open(history_csv, encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))

    def whole(row) -> bool:  # a row cut short or run together with the next one is left out of the plot
        return None not in row and all(v is not None for v in row.values()) and str(row.get("epoch", "")).isdigit()

    rows = [r for r in rows if whole(r)]
    if not rows:
        return None
    epochs = [int(r["epoch"]) + 1 for r in rows]

    def key_ending(suffix):
        return next((k for k in rows[0] if k.endswith(suffix) and not k.startswith("val_")), None)

    panels = [("loss", "loss")] + [
        (name, key) for name, key in (("accuracy", key_ending("accuracy")), ("macro F1", key_ending("macro_f1"))) if key
    ]
    fig, axes = subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (label, metric) in zip(axes, panels):
        for key, style, who in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
            if key in rows[0]:
                values = [_number(r[key]) for r in rows]
                ax.plot(epochs, values, style, marker="o", markersize=3, label=who)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.legend()
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, width=40 * len(panels))), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def format_metrics(metrics: dict) -> str:
    """A short text table of the metrics for the terminal."""
    ci = metrics.get("intervals")
    if ci:
        head = (
            f"accuracy {format_interval(metrics['accuracy'], ci['accuracy'])}   "
            f"weighted F1 {format_interval(metrics['weighted']['f1'], ci['weighted_f1'])}   "
            f"macro F1 {format_interval(metrics['macro']['f1'], ci['macro_f1'])}   "
            f"(%, 95% bootstrap intervals; n={metrics['num_examples']})"
        )
    else:
        head = (
            f"accuracy {metrics['accuracy']:.4f}   weighted F1 {metrics['weighted']['f1']:.4f}   "
            f"macro F1 {metrics['macro']['f1']:.4f}   (n={metrics['num_examples']})"
        )
    lines = [
        head,
        f"{'class':>12s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>7s}",
    ]
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:>12s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:7d}")
    cal = metrics.get("calibration")
    if cal and cal.get("ece") is not None:
        before = metrics.get("calibration_before")
        if before and before.get("ece") is not None:
            lines.append(
                f"{'calibration':>12s} ECE {100 * before['ece']:.1f}% -> {100 * cal['ece']:.1f}%, "
                f"NLL {before['nll']:.3f} -> {cal['nll']:.3f}, Brier {before['brier']:.3f} -> {cal['brier']:.3f} "
                f"(temperature {metrics['temperature']:.2f}, fitted on the validation split)"
            )
        else:
            lines.append(
                f"{'calibration':>12s} ECE {100 * cal['ece']:.1f}%, NLL {cal['nll']:.3f}, Brier {cal['brier']:.3f}"
            )
    return "\n".join(lines)


def evaluate_posts(
    directory: str,
    model_name: str,
    name: str,
    predictions,
    class_names,
    verbose: int = 1,
    write: bool = True,
    extra: dict | None = None,
) -> dict:
    """Metrics from `(y_true, y_prob)`; with `write`, stored under `name` in `directory/metrics.json`
    with the confusion matrix as `directory/confusion_matrix_<name>.png`."""
    y_true, y_prob = predictions
    metrics = compute_metrics(y_true, y_prob, class_names)
    metrics["split"] = name
    metrics.update(extra or {})
    if write:
        os.makedirs(directory, exist_ok=True)
        png = os.path.join(directory, f"confusion_matrix_{name}.png")
        plot_confusion_matrix(
            metrics["confusion_matrix"],
            class_names,
            png,
            f"{model_name}: {name} (acc {metrics['accuracy']:.3f}, macro F1 {metrics['macro']['f1']:.3f})",
        )
        metrics["confusion_matrix_png"] = os.path.basename(png)
        path = os.path.join(directory, "metrics.json")
        all_metrics = read_json(path) if os.path.exists(path) else {}
        all_metrics[name] = metrics
        write_json(path, all_metrics)
    if verbose:
        print(f"[{name}] " + format_metrics(metrics))
    return metrics
