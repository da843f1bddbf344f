"""`register_model` and what it records (`ModelSpec`): the model modules register themselves here.

Kept apart from `mmsa_keras.registry` (which imports every model module to list and build them), so a
model module imports this without importing the registry back.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any


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
