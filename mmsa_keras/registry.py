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

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from mmsa_keras.errors import UsageError


@dataclasses.dataclass
class ModelSpec:
    """What the registry knows about a model."""

    name: str
    builder: Callable[..., Any]
    paper: str
    table: str
    description: str
    modalities: tuple[str, ...] = ("text", "image")
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def supports_feature_mode(self) -> bool:
        return bool(getattr(self.builder, "supports_feature_mode", True)) and bool(self.modalities)

    @property
    def uses_sequences(self) -> bool:
        return bool(getattr(self.builder, "uses_sequences", False))

    @property
    def text_feature(self) -> str:
        return getattr(self.builder, "text_feature", "pooled_output")

    def accepted_arguments(self) -> set[str] | None:
        """Constructor argument names, or None when it takes **kwargs beyond Keras's own."""
        params = inspect.signature(self.builder).parameters
        return {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


_MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    description: str,
    modalities=("text", "image"),
    paper: str | None = None,
    table: str | None = None,
    **defaults,
):
    """Class (or function) decorator registering a model under `name`.

    `paper` and `table` default to the builder's own `paper` / `table`
    attributes; `defaults` are constructor arguments applied before overrides.
    The decorator returns the builder unchanged, so one class may be registered
    under several names with different defaults.
    """

    def decorator(builder):
        if name in _MODELS and _MODELS[name].builder is not builder:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = ModelSpec(
            name,
            builder,
            paper or getattr(builder, "paper", ""),
            table or getattr(builder, "table", ""),
            description,
            tuple(modalities),
            dict(defaults),
        )
        return builder

    return decorator


def _ensure_registered() -> None:
    if not _MODELS or "native_cat" not in _MODELS:
        import mmsa_keras.models  # noqa: F401  (the model modules register themselves)


def list_models() -> list[ModelSpec]:
    _ensure_registered()
    return [_MODELS[k] for k in sorted(_MODELS, key=lambda n: (_MODELS[n].paper, n))]


def model_names() -> list[str]:
    _ensure_registered()
    return sorted(_MODELS)


def get_spec(name: str) -> ModelSpec:
    _ensure_registered()
    if name not in _MODELS:
        import difflib

        close = difflib.get_close_matches(str(name), _MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown model {name!r}{hint}; `mmsa models` lists the {len(_MODELS)} models")
    return _MODELS[name]


def resolve_encoders(kwargs: dict[str, Any], modalities) -> dict[str, Any]:
    """Build encoders given by name; drop encoder arguments a model does not use."""
    from mmsa_keras.encoders import build_image_encoder, build_text_encoder

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
    from mmsa_keras.custom_objects import load_trained_network

    spec = get_spec(name)
    kwargs = resolve_encoders({**spec.defaults, **overrides}, spec.modalities)
    for key, value in list(kwargs.items()):
        if key.endswith("_model") and isinstance(value, str) and value.endswith(".keras"):
            kwargs[key] = load_trained_network(value)
    return spec.builder(**kwargs)
