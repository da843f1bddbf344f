"""Registration of every custom object the project saves, and `load_model`.

A `.keras` file of this project names classes such as `mmsa_keras>NativeCat`,
`mmsa_keras>GroupedAdamW` or `mmsa_keras>CommonSpaceLoss`; Keras finds them
only once their modules are imported. `register_all()` imports every such
module (layers, encoders, models, losses, optimizers and schedules);
`load_model(path)` calls it, then loads.

`fast_keras_saving` (a Keras saving workaround) lives in `mmsa_keras.keras_compat`.
"""

from __future__ import annotations

import importlib
import os
import zipfile

import keras

from mmsa_keras._quiet import quiet_tensorflow
from mmsa_keras.errors import RunError
from mmsa_keras.keras_compat import fast_keras_saving  # noqa: F401  (imported from here by callers)

_MODULES = (
    "mmsa_keras.layers",
    "mmsa_keras.encoders",
    "mmsa_keras.models",
    "mmsa_keras.losses",
    "mmsa_keras.optimizers",
    "mmsa_keras.metrics",
)
_done = False


def register_all() -> None:
    """Import every module that registers Keras-serialisable classes (idempotent)."""
    global _done
    if _done:
        return

    quiet_tensorflow()
    for name in _MODULES:
        importlib.import_module(name)
    _done = True


def load_model(path: str, compile: bool = False):
    """Load a `.keras` model saved by this project (custom objects registered first).

    `compile=False` by default: the training optimizer is not needed to predict,
    evaluate or export.
    """
    register_all()
    if not os.path.exists(path):
        raise RunError(f"{path}: no such model file")
    fast_keras_saving()
    if not model_file_ok(path):
        raise RunError(
            f"{path}: damaged or cut short (not a whole .keras archive); for a run, the same `mmsa train` "
            "command trains it again; for another file, save it again"
        )
    return keras.saving.load_model(path, compile=compile, safe_mode=True)


def load_trained_network(path: str):
    """The trained network of a run's `model.keras`, without the calibration wrapper a run adds after
    training (what a model composed of trained models, or started from one, builds on: the papers'
    procedures use the networks' own softmax outputs and layers)."""
    model = load_model(path)
    names = [layer.name for layer in model.layers]
    if "temperature_scaling" in names:
        inner = [layer for layer in model.layers if hasattr(layer, "layers") and layer.name != "temperature_scaling"]
        if len(inner) == 1:
            return inner[0]
    return model


def model_file_ok(path: str) -> bool:
    """True when `path` is a whole `.keras` zip archive (its central directory and every member's CRC check out)."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None and "config.json" in z.namelist()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False
