"""Calibrated probabilities: one temperature fitted on the validation split, and how to measure calibration.

* `fit_temperature(probs, labels)`: the T > 0 that minimises the negative
  log-likelihood of `softmax(log p / T)` on the validation posts (a bounded
  one-dimensional search over log T in [1/20, 20]).
* `calibration_metrics(probs, labels)`: expected calibration error (15
  equal-width confidence bins, |accuracy - mean confidence| weighted by the
  bin's share of posts), NLL (mean -log p of the true class) and the Brier
  score (mean squared distance between the probabilities and the one-hot label,
  summed over classes).
* `with_temperature(model, T)`: the model with a `TemperatureScaling` layer on
  its class probabilities (what a run saves, exports and serves).
* `plot_reliability(...)`: the reliability diagram before and after.
"""

from __future__ import annotations

import keras
import numpy as np
from scipy.optimize import minimize_scalar

from mmsa_keras.figures import subplots
from mmsa_keras.layers.temperature_scaling import TemperatureScaling
from mmsa_keras.models.base import class_scores

BINS = 15


def apply_temperature(probs, temperature: float) -> np.ndarray:
    log_p = np.log(np.maximum(np.asarray(probs, np.float64), 1e-12)) / float(temperature)
    log_p -= log_p.max(axis=-1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=-1, keepdims=True)


def _nll(probs, labels) -> float:
    p = np.asarray(probs, np.float64)[np.arange(len(labels)), np.asarray(labels, int)]
    return float(-np.mean(np.log(np.maximum(p, 1e-12))))


def fit_temperature(probs, labels) -> float:
    """The NLL-minimising temperature on `(probs, labels)` (1.0 for no posts)."""
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: _nll(apply_temperature(probs, np.exp(log_t)), labels),
        bounds=(np.log(1 / 20), np.log(20)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def reliability_bins(probs, labels, bins: int = BINS) -> list[dict]:
    """Per equal-width confidence bin: `lo`, `hi`, `count`, `confidence` (mean), `accuracy`."""
    probs = np.asarray(probs, np.float64)
    confidence, predicted = probs.max(axis=-1), probs.argmax(axis=-1)
    correct = predicted == np.asarray(labels, int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        out.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": int(mask.sum()),
                "confidence": float(confidence[mask].mean()) if mask.any() else None,
                "accuracy": float(correct[mask].mean()) if mask.any() else None,
            }
        )
    return out


def calibration_metrics(probs, labels, bins: int = BINS) -> dict:
    """`{"ece", "nll", "brier"}` of class probabilities against integer labels."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, int)
    n = len(labels)
    if n == 0:
        return {"ece": None, "nll": None, "brier": None}
    ece = sum(
        b["count"] / n * abs(b["accuracy"] - b["confidence"])
        for b in reliability_bins(probs, labels, bins)
        if b["count"]
    )
    onehot = np.eye(probs.shape[-1])[labels]
    return {"ece": float(ece), "nll": _nll(probs, labels), "brier": float(np.mean(np.sum((probs - onehot) ** 2, -1)))}


def with_temperature(model, temperature: float):
    """`model` with its class probabilities scaled by `temperature` (an uncompiled model for inference)."""
    model.optimizer = None  # as in `tfidf_ensemble.with_tfidf`: inference only, no optimizer state saved inside
    model.compiled = False
    inputs = {name: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=name) for name, t in dict(model.input).items()}
    out = TemperatureScaling(temperature, name="temperature_scaling")(class_scores(model(inputs)))
    return keras.Model(inputs, out, name=f"{model.name}_calibrated")


def plot_reliability(before, after, labels, path: str, title: str, temperature: float) -> str:
    """Reliability diagram: accuracy against confidence per bin, before and after scaling."""

    fig, ax = subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for probs, name, style in ((before, "before", "o--"), (after, f"after (T = {temperature:.2f})", "s-")):
        pts = [(b["confidence"], b["accuracy"]) for b in reliability_bins(probs, labels) if b["count"]]
        ece = calibration_metrics(probs, labels)["ece"]
        ax.plot(*zip(*pts), style, label=f"{name}: ECE {100 * ece:.1f}%")
    ax.set_xlabel("confidence (mean of the bin's top probability)")
    ax.set_ylabel("accuracy in the bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
