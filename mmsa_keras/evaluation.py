"""Accuracy, per-class precision/recall/F1, weighted and macro F1, confusion matrices."""

from __future__ import annotations

import os

import numpy as np


def compute_metrics(y_true, y_prob, class_names) -> dict:
    """All the metrics the papers report, from integer labels and probabilities.

    Returns a JSON-ready dict: `accuracy`, `per_class` (precision, recall, f1,
    support per class name), `weighted` and `macro` averages, `micro_f1` and
    `confusion_matrix` (rows = true class, columns = predicted).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

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
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                     zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    out["micro_f1"] = float(precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                            average="micro", zero_division=0)[2])
    return out


def predict_dataset(model, dataset, verbose=1):
    """Run `model` over a `(inputs, labels)` dataset; returns `(y_true, y_prob)`."""
    import keras

    labels, probs = [], []
    n = dataset.cardinality().numpy()
    bar = keras.utils.Progbar(n if n > 0 else None, unit_name="batch") if verbose else None
    from mmsa_keras.models.base import class_scores

    for inputs, y in dataset:
        probs.append(np.asarray(class_scores(model(inputs, training=False))))
        labels.append(np.asarray(y))
        if bar is not None:
            bar.add(1)
    return np.concatenate(labels), np.concatenate(probs)


def plot_confusion_matrix(matrix, class_names, path: str, title: str = "") -> str:
    """Save a confusion matrix (counts, row-normalised colour) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(3.5, 0.9 * len(class_names) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, int(m[i, j]), ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_history(history_csv: str, path: str) -> str | None:
    """Plot loss and accuracy curves from a CSVLogger file."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(history_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    accuracy_key = next((k for k in rows[0] if k.endswith("accuracy") and not k.startswith("val_")),
                        "accuracy")
    for ax, metric in zip(axes, ("loss", accuracy_key)):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in rows[0]:
                ax.plot(epochs, [float(r[key]) for r in rows], style, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_metrics(metrics: dict) -> str:
    """A short text table of the metrics for the terminal."""
    lines = [f"accuracy {metrics['accuracy']:.4f}   weighted F1 {metrics['weighted']['f1']:.4f}   "
             f"macro F1 {metrics['macro']['f1']:.4f}   (n={metrics['num_examples']})",
             f"{'class':>12s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>7s}"]
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:>12s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:7d}")
    return "\n".join(lines)


def evaluate_run(run_dir: str, split: str = "test", verbose: int = 1, model=None,
                 preprocessor=None, dataset=None, batch_size: int = 64, predictions=None) -> dict:
    """Evaluate a run directory's model on one of its saved splits.

    Writes the metrics under `split` in `RUN_DIR/metrics.json` and the
    confusion matrix as `RUN_DIR/confusion_matrix_<split>.png`.
    """
    import json

    import keras

    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.report import DataReport
    from mmsa_keras import runs

    config = runs.read_json(os.path.join(run_dir, "run_config.json"))
    if dataset is None:
        report = DataReport()
        dataset = runs.load_split_data(config["data_dir"], config["format"], config["seed"], report,
                                       splits_file=os.path.join(run_dir, "splits.json"),
                                       format_options=config.get("format_options"), verbose=bool(verbose))
    posts = dataset.labelled(split)
    if not posts:
        raise ValueError(f"{run_dir}: split {split!r} has no labelled posts "
                         f"(splits: {sorted(dataset.splits)})")
    if predictions is None:
        preprocessor = preprocessor or Preprocessor.load(run_dir)
        model = model or keras.saving.load_model(os.path.join(run_dir, "model.keras"))
        ds = preprocessor.make_dataset(posts, batch_size, input_names=list(model.input))
        if verbose:
            print(f"Evaluating on {split} ({len(posts)} posts)")
        y_true, y_prob = predict_dataset(model, ds, verbose=verbose)
    else:
        y_true, y_prob = predictions
    metrics = compute_metrics(y_true, y_prob, dataset.class_names)
    metrics["split"] = split
    png = os.path.join(run_dir, f"confusion_matrix_{split}.png")
    plot_confusion_matrix(metrics["confusion_matrix"], dataset.class_names, png,
                          f"{config['model']} on {split} (acc {metrics['accuracy']:.3f})")
    metrics["confusion_matrix_png"] = os.path.basename(png)
    path = os.path.join(run_dir, "metrics.json")
    all_metrics = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            all_metrics = json.load(f)
    all_metrics[split] = metrics
    runs.write_json(path, all_metrics)
    if verbose:
        print(format_metrics(metrics))
    return metrics
