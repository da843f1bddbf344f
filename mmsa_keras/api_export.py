"""One decorator that registers every public layer and model as Keras-serialisable."""

from __future__ import annotations

import keras


def mmsa_export(path: str):
    """Register a class under the "mmsa_keras" package for `.keras` (de)serialisation.

    `path` is the public name (e.g. "mmsa_keras.layers.GL1"); it is recorded on
    the class as `_mmsa_export_path` for documentation and listing.
    """

    def decorator(cls):
        cls._mmsa_export_path = path
        return keras.saving.register_keras_serializable(package="mmsa_keras")(cls)

    return decorator
