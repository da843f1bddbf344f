"""Shared test helpers (DESIGN.md section 7): layer and model round trips, random inputs."""

from __future__ import annotations

import os

import keras
import numpy as np


def random_inputs(model: keras.Model, batch_size: int = 3, seed: int = 0, present=None) -> dict:
    """Random inputs matching a model's input specs; presence flags set to `present`."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, spec in model.input.items():
        shape = (batch_size, *spec.shape[1:])
        if name in ("token_ids",):
            out[name] = rng.integers(1, 20, size=shape).astype("int32")
        elif name in ("padding_mask", "text_feature_mask"):
            mask = np.ones(shape, "int32")
            mask[:, shape[1] // 2 :] = 0
            out[name] = mask
        elif name == "segment_ids":
            out[name] = np.zeros(shape, "int32")
        elif name.endswith("_present"):
            out[name] = np.ones(shape, "float32") if present is None else np.full(shape, present, "float32")
        else:
            out[name] = rng.normal(size=shape).astype("float32")
    return out


def _as_dict(outputs):
    return outputs if isinstance(outputs, dict) else {"output": outputs}


def assert_model_round_trip(model: keras.Model, inputs: dict, tmp_path) -> keras.Model:
    """`.keras` save/load gives the same class, config and outputs."""
    path = os.path.join(str(tmp_path), f"{model.name}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    expected = _as_dict(model(inputs, training=False))
    got = _as_dict(restored(inputs, training=False))
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), rtol=1e-6, atol=1e-6)
    return restored


def assert_one_fit_step(model: keras.Model, inputs: dict, num_classes: int = 3) -> None:
    from mmsa_keras.training import training_objective

    labels = np.arange(len(next(iter(inputs.values())))) % num_classes
    model.compile(optimizer="adam", **training_objective(model))
    if isinstance(model.output, dict):
        labels = {k: labels for k in model.output}
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(inputs, labels, epochs=1, batch_size=len(labels), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def assert_layer_round_trip(layer: keras.layers.Layer, call_args, tmp_path=None, **call_kwargs):
    """Config round trip, serialisation and eager/symbolic call agreement."""
    out = layer(*call_args, **call_kwargs)
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    restored(*call_args, **call_kwargs)
    if restored.weights:
        restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(restored(*call_args, **call_kwargs)), np.asarray(out), atol=1e-6)
    return out
