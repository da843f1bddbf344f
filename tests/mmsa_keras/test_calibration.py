"""Temperature scaling and the calibration measures (`mmsa_keras.calibration`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmsa_keras.calibration import (
    apply_temperature,
    calibration_metrics,
    fit_temperature,
    reliability_bins,
    with_temperature,
)
from mmsa_keras.custom_objects import load_model
from mmsa_keras.layers.temperature_scaling import TemperatureScaling


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


def test_the_fitted_temperature_undoes_a_known_overconfidence():
    """Labels drawn from softmax(z); a model that reports softmax(2.5 z) is over-confident by T = 2.5."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 3)) * 1.5
    labels = np.array([rng.choice(3, p=p) for p in _softmax(z)])
    overconfident = _softmax(2.5 * z)
    t = fit_temperature(overconfident, labels)
    assert t == pytest.approx(2.5, rel=0.05)
    before, after = (
        calibration_metrics(overconfident, labels),
        calibration_metrics(apply_temperature(overconfident, t), labels),
    )
    assert after["ece"] < before["ece"] / 3 and after["nll"] < before["nll"] and after["brier"] < before["brier"]
    np.testing.assert_array_equal(apply_temperature(overconfident, t).argmax(-1), overconfident.argmax(-1))


def test_ece_nll_and_brier_on_a_hand_computed_case():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    # bins (15 equal widths): 0.9 -> two posts, accuracy 1/2; 0.6 -> one, accuracy 1; 0.7 -> one, accuracy 1
    ece = (2 / 4) * abs(0.5 - 0.9) + (1 / 4) * abs(1 - 0.6) + (1 / 4) * abs(1 - 0.7)
    nll = -np.mean(np.log([0.9, 0.1, 0.6, 0.7]))
    brier = np.mean([0.01 + 0.01, 0.81 + 0.81, 0.16 + 0.16, 0.09 + 0.09])
    got = calibration_metrics(probs, labels)
    assert got == pytest.approx({"ece": ece, "nll": nll, "brier": brier})
    assert sum(b["count"] for b in reliability_bins(probs, labels)) == 4


def test_the_layer_matches_the_numpy_reference_and_round_trips(tmp_path):
    x = keras.Input((3,), name="x")
    model = keras.Model({"x": x}, keras.layers.Dense(3, activation="softmax")(x))
    calibrated = with_temperature(model, 1.7)
    inputs = {"x": tf.constant(np.random.default_rng(1).normal(size=(5, 3)), tf.float32)}
    want = apply_temperature(model(inputs).numpy(), 1.7)
    np.testing.assert_allclose(calibrated(inputs).numpy(), want, atol=1e-5)
    calibrated.save(tmp_path / "c.keras")
    np.testing.assert_allclose(load_model(str(tmp_path / "c.keras"))(inputs).numpy(), want, atol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        TemperatureScaling(0.0)


def test_composed_models_build_on_the_uncalibrated_network(tmp_path):
    """A run saves its network wrapped in the temperature; models made of trained models (paper 000's WANN,
    paper 003's init-from) get the network itself."""
    from mmsa_keras.custom_objects import load_trained_network

    x = keras.Input((3,), name="x")
    model = keras.Model({"x": x}, keras.layers.Dense(3, activation="softmax", name="head")(x), name="net")
    with_temperature(model, 2.0).save(tmp_path / "run.keras")
    network = load_trained_network(str(tmp_path / "run.keras"))
    assert network.name == "net" and network.get_layer("head") is not None
    model.save(tmp_path / "plain.keras")
    assert load_trained_network(str(tmp_path / "plain.keras")).name == "net"
