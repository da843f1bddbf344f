"""Models by name: `register_model`, `create_model(name, **overrides)`, `list_models()`.

Every model registers itself beside its class with the `register_model`
decorator; its paper and table are read from the class (`paper`, `table`
attributes). Encoders may be given as Keras models or by name:
`text_encoder="small_transformer"` with `text_encoder_config={...}` builds
`mmsa_keras.encoders.small_transformer(...)`.

Example:
>>> model = mmsa_keras.registry.create_model(
...     "native_cat", text_encoder="small_transformer",
...     text_encoder_config={"vocabulary_size": 500, "sequence_length": 16},
...     image_encoder="small_cnn", image_encoder_config={"image_size": 32})
"""

from __future__ import annotations

import difflib
from typing import Any

import mmsa_keras.models  # noqa: F401  (the model modules register themselves)
from mmsa_keras.custom_objects import load_trained_network
from mmsa_keras.encoders import build_image_encoder, build_text_encoder
from mmsa_keras.errors import UsageError
from mmsa_keras.models.registration import _MODELS, ModelSpec, register_model

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "model_names", "register_model"]


def list_models() -> list[ModelSpec]:
    return [_MODELS[k] for k in sorted(_MODELS, key=lambda n: (_MODELS[n].paper, n))]


def model_names() -> list[str]:
    return sorted(_MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), _MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown model {name!r}{hint}; `mmsa models` lists the {len(_MODELS)} models")
    return _MODELS[name]


def resolve_encoders(kwargs: dict[str, Any], modalities) -> dict[str, Any]:
    """Build encoders given by name; drop encoder arguments a model does not use."""
    out = dict(kwargs)
    builders = {"text": build_text_encoder, "image": build_image_encoder}
    for modality, build in builders.items():
        key = f"{modality}_encoder"
        config = out.pop(f"{key}_config", None) or {}
        if modality not in modalities:
            out.pop(key, None)
            out.pop(f"{modality}_feature_shape", None)
            continue
        if out.get(f"{modality}_feature_shape") is not None:  # feature mode: no encoder
            out.pop(key, None)
            continue
        if isinstance(out.get(key), str):
            out[key] = build(out[key], **config)
    return out


def create_model(name: str, **overrides):
    """Build the registered model `name`, its defaults updated by `overrides`.

    An override named `*_model` whose value is a path to a `.keras` file is
    loaded (e.g. the trained unimodal models of paper 000's WANN pipeline).
    """
    spec = get_spec(name)
    defaults = dict(spec.defaults)
    for key in ("text_encoder", "image_encoder"):  # the model's own encoder settings go with its own encoder
        if key in overrides and overrides[key] != defaults.get(key):
            defaults.pop(f"{key}_config", None)
    kwargs = resolve_encoders({**defaults, **overrides}, spec.modalities)
    for key, value in list(kwargs.items()):
        if key.endswith("_model") and isinstance(value, str) and value.endswith(".keras"):
            kwargs[key] = load_trained_network(value)
    return spec.builder(**kwargs)
