"""mmsa-keras: multimodal (image + text) sentiment and emotion models in Keras 3.

Submodules: `layers`, `encoders`, `models` (one folder per paper), `losses`,
`optimizers`, `registry`, `plan`, `training`, `evaluation`, `export`, `runs`, `cli`.

`import mmsa_keras` is instant (the `mmsa` command answers `--help` without
loading TensorFlow): the submodules load on first use. Touching any of them,
e.g. `mmsa_keras.models.NativeCat`, `mmsa_keras.create_model(...)` or
`mmsa_keras.load_model(path)`, registers every custom object the project
saves (layers, models, losses, optimizers, schedules), so a saved `.keras`
file loads with `mmsa_keras.load_model(path)` or, after that, with
`keras.saving.load_model(path)`.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
importlib.import_module("mmsa_keras._quiet").install_quiet_import()  # TensorFlow's start-up lines stay silent

__version__ = "0.1.0"

_SUBMODULES = (
    "config",
    "encoders",
    "errors",
    "evaluation",
    "export",
    "layers",
    "losses",
    "models",
    "optimizers",
    "plan",
    "registry",
    "runs",
    "training",
    "baselines",
)
_FUNCTIONS = {
    "create_model": "registry",
    "list_models": "registry",
    "load_model": "custom_objects",
    "register_all": "custom_objects",
}

__all__ = ["__version__", *_SUBMODULES, *_FUNCTIONS]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"mmsa_keras.{name}")
        if name not in ("config", "errors"):
            importlib.import_module("mmsa_keras.custom_objects").register_all()
        return module
    if name in _FUNCTIONS:
        module = importlib.import_module(f"mmsa_keras.{_FUNCTIONS[name]}")
        importlib.import_module("mmsa_keras.custom_objects").register_all()
        return getattr(module, name)
    raise AttributeError(f"module 'mmsa_keras' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
