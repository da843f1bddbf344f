"""Shared test helpers (docs/ARCHITECTURE.md §8): layer and model round trips, random inputs."""

from __future__ import annotations

import os
import re

import keras
import numpy as np

from data_pipelines.features import StoredFeatures, _feature_columns
from data_pipelines.post import Post


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


def assert_one_fit_step(model: keras.Model, inputs: dict, num_classes: int = 3, expect_change: bool = True) -> None:
    from mmsa_keras.app.fitting import training_objective

    labels = np.arange(len(next(iter(inputs.values())))) % num_classes
    model.compile(optimizer="adam", **training_objective(model))
    if isinstance(model.output, dict):
        labels = {k: labels for k in model.output}
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(inputs, labels, epochs=1, batch_size=len(labels), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if expect_change:
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


def _absent(inputs: dict, which: dict) -> dict:
    batch = dict(inputs)
    for key, value in which.items():
        if key in batch:
            batch[key] = np.full_like(batch[key], value)
            if key == "text_present":
                for mask in ("padding_mask", "text_feature_mask"):
                    if mask in batch:
                        batch[mask] = np.zeros_like(batch[mask])
    return batch


def run_model_test(
    factory,
    tmp_path,
    batch_size: int = 4,
    num_classes: int = 3,
    mixed_precision: bool = True,
    check_missing: bool = True,
) -> keras.Model:
    """The keras-hub-style check every registered model passes (docs/ARCHITECTURE.md §8).

    `factory()` builds the model. Checks: class scores are a distribution;
    `from_config(get_config())` rebuilds the same config; a `.keras` round trip
    gives equal outputs; one fit step changes the weights with a finite loss;
    under `mixed_float16` a fresh model takes a fit step and its class scores
    stay float32; with each modality (and both) absent the scores stay a
    finite distribution.
    """
    from mmsa_keras.models.base import class_scores

    model = factory()
    inputs = random_inputs(model, batch_size=batch_size)
    probs = np.asarray(class_scores(model(inputs)))
    assert probs.shape == (batch_size, num_classes)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert_one_fit_step(model, inputs, num_classes)
    assert_model_round_trip(model, inputs, tmp_path)
    if check_missing:
        for which in ({"image_present": 0.0}, {"text_present": 0.0}, {"image_present": 0.0, "text_present": 0.0}):
            out = np.asarray(class_scores(model(_absent(inputs, which))))
            assert np.all(np.isfinite(out))
    if mixed_precision:
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            mixed = factory()
            # dynamic loss scaling may skip the first step (overflow at the initial scale): no weight-change check
            assert_one_fit_step(mixed, random_inputs(mixed, batch_size=batch_size), num_classes, expect_change=False)
            out = mixed(random_inputs(mixed, batch_size=batch_size))
            assert keras.backend.standardize_dtype(class_scores(out).dtype) == "float32", class_scores(out).dtype
        finally:
            keras.mixed_precision.set_global_policy(previous)
    return model


#: a results row of a reproduction's report.md
REPORT_ROW = re.compile(
    r"^\| (?P<row>[^|]+?)(?: ⚠)? \| (?P<metric>[^|]+?) \| (?P<paper>[^|]+?) \| "
    r"(?P<mean>-?\d[\d.]*)(?: ± (?P<std>-?\d[\d.]*))? \| (?P<delta>[^|]+?) \|$"
)


def parse_report(path: str) -> dict:
    """Read the results table of a report.md back: {(row, metric): (paper, mean, std or None)}."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = REPORT_ROW.match(line.strip())
            if m:
                paper = None if m["paper"] == "—" else float(m["paper"])
                std = None if m["std"] is None else float(m["std"])
                out[(m["row"], m["metric"])] = (paper, float(m["mean"]), std)
    return out


def feature_inputs(posts: list[Post], stored: StoredFeatures) -> dict[str, np.ndarray]:
    """The feature-mode model inputs for `posts`, in memory (see `feature_stream` for training)."""
    ids = [p.id for p in posts]
    out = {}
    for name, fs, output, dtype in _feature_columns(stored):
        out[name] = fs.arrays(ids, [output])[output].astype(dtype.as_numpy_dtype)
        if output in fs.standardization:
            mean, std = fs.standardization[output]
            out[name] = (out[name] - mean) / std
    if stored.text is not None:
        out["text_present"] = np.array([float(p.has_text) for p in posts], np.float32)
    if stored.image is not None:
        out["image_present"] = np.array([float(p.has_image) for p in posts], np.float32)
    return out
