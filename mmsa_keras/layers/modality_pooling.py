"""Element-wise max or average pooling of modality vectors (paper 004, equation 10)."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.ModalityPooling")
class ModalityPooling(keras.layers.Layer):
    """Pools K modality vectors `[B, D]` into one post vector, ignoring absent ones.

    Paper 004 (Duong, Lebret, Aberer), section 4.3, equation 10:
    x = pooling(γ(i), ψ(s)), component-wise max or average. The presence flags
    make a missing modality drop out exactly: with the text absent the result
    is the image vector itself, for both modes; with every modality absent it
    is a zero vector.

    Call arguments:
        inputs: list of K tensors `[B, D]`.
        presence: list of K tensors `[B]` (1 present, 0 absent), or None
            (all present).

    Args:
        mode: str. "max" or "average". Default "max".

    Example:
    >>> pool = mmsa_keras.layers.ModalityPooling("max")
    >>> pool([image_vec, text_vec], presence=[image_present, text_present])
    """

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "average"):
            raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
        self.mode = mode

    def call(self, inputs, presence=None):
        x = ops.stack(inputs, axis=1)  # [B, K, D]
        if presence is None:
            p = ops.ones(ops.shape(x)[:2], dtype=x.dtype)
        else:
            p = ops.stack([ops.cast(q, x.dtype) for q in presence], axis=1)  # [B, K]
        p = ops.expand_dims(p, -1)
        if self.mode == "average":
            return ops.sum(x * p, axis=1) / ops.maximum(ops.sum(p, axis=1), ops.cast(1.0, x.dtype))
        very_negative = ops.cast(-3e4, x.dtype)
        pooled = ops.max(ops.where(p > 0, x, very_negative), axis=1)
        return pooled * ops.cast(ops.sum(p, axis=1) > 0, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
