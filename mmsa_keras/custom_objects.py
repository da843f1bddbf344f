"""Registration of every custom object the project saves, and `load_model`.

A `.keras` file of this project names classes such as `mmsa_keras>NativeCat`,
`mmsa_keras>GroupedAdamW` or `mmsa_keras>CommonSpaceLoss`; Keras finds them
only once their modules are imported. `register_all()` imports every such
module (layers, encoders, models, losses, optimizers and schedules);
`load_model(path)` calls it, then loads.

`fast_keras_saving()` works around a Keras 3 bug that makes saving and loading
a large model slow: `saving_lib.get_attr_skipset` caches its per-type result
under `saving_attr_skipset_<type>` but looks it up under
`saving_attr_skiplist_<type>`, so every layer visited builds a throw-away
`Layer()` and lists its attributes (about 1 ms each: 0.4 s of the 1.9 s that
saving a head with ResNet-50 + MiniLM took, profiled). It stores the same sets under the
name looked up; what is saved or loaded is unchanged (tested).
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


_SKIPSET_TYPES = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss")
_skipsets: dict = {}


def fast_keras_saving() -> None:
    """Give Keras' saving code the attribute skip-sets under the key it looks them up by (see above).

    Keras' global state is per thread and reset by `clear_session`, so this is
    called before each save or load (a no-op when already in place).
    """
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    if not _skipsets:
        for obj_type in _SKIPSET_TYPES:
            try:
                _skipsets[obj_type] = frozenset(saving_lib.get_attr_skipset(obj_type))
            except Exception:  # a Keras without this type (or without the function): leave Keras as it is
                _skipsets.clear()
                return
    for obj_type, skipset in _skipsets.items():
        name = f"saving_attr_skiplist_{obj_type}"
        if global_state.get_global_attribute(name) is None:
            global_state.set_global_attribute(name, set(skipset))


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
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None and "config.json" in z.namelist()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False
