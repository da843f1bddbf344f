"""Registration of every custom object the project saves, and `load_model`.

A `.keras` file of this project names classes such as `mmsa_keras>NativeCat`,
`mmsa_keras>GroupedAdamW` or `mmsa_keras>CommonSpaceLoss`; Keras finds them
only once their modules are imported. `register_all()` imports every such
module (layers, encoders, models, losses, optimizers and schedules);
`load_model(path)` calls it, then loads.
"""

from __future__ import annotations

import importlib

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
    from mmsa_keras._quiet import quiet_tensorflow

    quiet_tensorflow()
    for name in _MODULES:
        importlib.import_module(name)
    _done = True


def load_model(path: str, compile: bool = False):
    """Load a `.keras` model saved by this project (custom objects registered first).

    `compile=False` by default: the training optimizer is not needed to predict,
    evaluate or export.
    """
    import os

    import keras

    from mmsa_keras.errors import RunError

    register_all()
    if not os.path.exists(path):
        raise RunError(f"{path}: no such model file")
    return keras.saving.load_model(path, compile=compile)
