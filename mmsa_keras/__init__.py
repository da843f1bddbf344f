"""mmsa-keras: multimodal (image + text) sentiment and emotion models in Keras 3.

The Keras library: `layers`, `encoders`, `models` (one folder per paper), `losses`,
`optimizers`, `registry`, `baselines`, `calibration`, `uncertainty`. The application built on it
(settings, plan, training, run directories, evaluation, export, serving, the `mmsa` command) is
`mmsa_keras.app` (`mmsa_keras.app.training`, `mmsa_keras.app.runs`, ...).

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
    "app",
    "baselines",
    "calibration",
    "encoders",
    "errors",
    "layers",
    "losses",
    "models",
    "optimizers",
    "registry",
    "uncertainty",
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
        if name not in ("app", "errors", "uncertainty"):
            importlib.import_module("mmsa_keras.custom_objects").register_all()
        return module
    if name in _FUNCTIONS:
        module = importlib.import_module(f"mmsa_keras.{_FUNCTIONS[name]}")
        importlib.import_module("mmsa_keras.custom_objects").register_all()
        return getattr(module, name)
    raise AttributeError(f"module 'mmsa_keras' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
