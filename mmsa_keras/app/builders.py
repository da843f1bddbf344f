"""Building from a plan: the preprocessor, the encoders and the model a `RunPlan` describes.

The plan (`mmsa_keras.app.plan`) is data: frozen dataclasses that say what to build. Everything that
turns it into Keras objects lives here, so a plan can be printed, stored in `run_config.json`, compared
for resume and read back without building anything (docs/ARCHITECTURE.md §5).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import keras

from data_pipelines.pipeline import Preprocessor
from data_pipelines.tokenization import HubTokenizer, VocabularyTokenizer
from mmsa_keras.app.plan import EncoderPlan, PreprocessingPlan, RunPlan, encoder_seed
from mmsa_keras.encoders import build_image_encoder, build_text_encoder
from mmsa_keras.errors import MMSAError, RunError, UsageError
from mmsa_keras.label_vectors import glove_embedding_matrix
from mmsa_keras.registry import create_model

#: frozen encoders built in this process, by their settings (see `build_encoder(reuse=True)`)
_FROZEN_ENCODERS: dict[str, Any] = {}


def make_preprocessor(plan: PreprocessingPlan) -> Preprocessor:
    """The (unfitted) preprocessor of a plan: image size and normalisation, the tokenizer."""
    options = {k: v for k, v in plan.tokenizer.items() if k not in ("kind", "preset")}
    if plan.tokenizer["kind"] == "keras_hub":
        tokenizer = HubTokenizer(plan.tokenizer["preset"], sequence_length=plan.sequence_length)
    else:
        tokenizer = VocabularyTokenizer(plan.sequence_length, **options)
    return Preprocessor(
        image_size=plan.image_size,
        tokenizer=tokenizer,
        sequence_length=plan.sequence_length,
        normalisation=plan.normalisation,
        text_transform=plan.text_transform,
        source_size=plan.source_size,
    )


def encoder_arguments(plan: EncoderPlan, preprocessor=None) -> dict[str, Any]:
    """An encoder's constructor arguments, completed with what the fitted preprocessor says."""
    kwargs = dict(plan.kwargs)
    if not plan.pretrained and preprocessor is not None:
        if plan.modality == "text":
            kwargs.setdefault("vocabulary_size", preprocessor.tokenizer.vocabulary_size)
            kwargs.setdefault("sequence_length", preprocessor.tokenizer.sequence_length)
        else:
            kwargs.setdefault("image_size", preprocessor.image_size)
    if plan.pretrained:
        kwargs["unfreeze"] = plan.unfreeze
        if plan.modality == "image":
            kwargs["weights"] = plan.weights
            if preprocessor is not None:
                kwargs.setdefault("image_size", preprocessor.image_size)
    return kwargs


def build_encoder(plan: EncoderPlan, preprocessor=None, seed: int | None = None, reuse: bool = False):
    """Build one encoder; with `seed`, its random initialisation depends on (seed, modality) alone, so
    `mmsa features extract` and `mmsa train` build the same randomly initialised encoder.

    With `reuse`, a frozen encoder built before in this process with the same settings is returned
    (its weights never change, so every head of a sweep can share it)."""
    key = None
    if reuse and plan.frozen and not plan.glove:
        key = json.dumps(
            [dataclasses.asdict(plan), encoder_arguments(plan, preprocessor), seed], sort_keys=True, default=str
        )
        if key in _FROZEN_ENCODERS:
            return _FROZEN_ENCODERS[key]
    encoder = _build_encoder(plan, preprocessor, seed)
    if key is not None:
        _FROZEN_ENCODERS[key] = encoder
    return encoder


def _build_encoder(plan: EncoderPlan, preprocessor=None, seed: int | None = None):
    if seed is not None:
        keras.utils.set_random_seed(encoder_seed(seed, plan.modality))
    builder = build_text_encoder if plan.modality == "text" else build_image_encoder
    if plan.glove:
        encoder = builder(plan.name, **encoder_arguments(plan, preprocessor))
        _load_glove(encoder, plan.glove, preprocessor)
        return encoder
    try:
        return builder(plan.name, **encoder_arguments(plan, preprocessor))
    except Exception as e:
        if isinstance(e, MMSAError) or plan.weights not in ("imagenet", "preset"):
            raise
        what = "ImageNet weights" if plan.weights == "imagenet" else "the pretrained weights"
        hint = (
            "pass --image-weights none for a random initialisation, or a weights file"
            if plan.weights == "imagenet"
            else "check the preset name, or give a local directory"
        )
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise RunError(f"could not load {what} of {plan.name} ({type(e).__name__}: {first}); {hint}") from e


def _load_glove(encoder, path: str, preprocessor) -> None:
    """Set the word embedding layer of `encoder` from a GloVe file (words of the fitted vocabulary)."""
    layer = next((lyr for lyr in encoder.layers if isinstance(lyr, keras.layers.Embedding)), None)
    if layer is None:
        raise UsageError(f"--glove: the text encoder {encoder.name} has no word embedding layer")
    vocabulary = preprocessor.tokenizer.vocabulary()
    matrix, covered = glove_embedding_matrix(path, vocabulary, int(layer.output_dim))
    layer.set_weights([matrix[: layer.input_dim]])
    print(f"[plan] {covered:,} of {len(vocabulary):,} vocabulary words initialised from {path}", flush=True)


def build_encoders(plan: RunPlan, preprocessor) -> dict:
    """Every encoder of a run, each seeded on its own; the global seed is reset to the run's afterwards.
    Frozen encoders whose outputs come from the store are shared across the runs of a process."""
    out = {
        m: build_encoder(e, preprocessor, seed=plan.seed, reuse=m in plan.stored_modalities)
        for m, e in plan.encoders.items()
    }
    keras.utils.set_random_seed(plan.seed)
    return out


def build_model(plan: RunPlan, num_classes: int, preprocessor=None, encoders=None, feature_shapes=None):
    """The registered model: raw mode with `encoders` (built from the plan when None), or feature mode
    with `feature_shapes` ({"text_feature_shape": ..., ...})."""
    kwargs = {"num_classes": num_classes, **plan.model_overrides, **(feature_shapes or {})}
    encoders = encoders or {}
    for m, enc in plan.encoders.items():
        if f"{m}_feature_shape" in kwargs:
            continue
        kwargs[f"{m}_encoder"] = encoders[m] if m in encoders else build_encoder(enc, preprocessor)
    return create_model(plan.model, **kwargs)
