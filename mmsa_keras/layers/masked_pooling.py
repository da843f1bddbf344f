"""Mean or max pooling over tokens that respects a padding mask."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.MaskedPooling")
class MaskedPooling(keras.layers.Layer):
    """Pools `[B, L, D]` token states to `[B, D]` over the unmasked positions.

    Used for the mean of last hidden states over the padding mask (paper 001),
    the mean-pooled attention outputs of paper 002 and the max aggregation of
    word embeddings of paper 004. A row whose mask is all zero (a post without
    text) pools to a zero vector, never NaN.

    Args:
        mode: str. "mean" or "max". Default "mean".

    Example:
    >>> pool = mmsa_keras.layers.MaskedPooling("mean")
    >>> pool(np.ones((2, 4, 8)), mask=np.array([[1, 1, 0, 0], [0, 0, 0, 0]])).shape
    (2, 8)
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype=inputs.dtype)
        m = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        if self.mode == "mean":
            total = ops.sum(inputs * m, axis=1)
            count = ops.maximum(ops.sum(m, axis=1), ops.cast(1.0, inputs.dtype))
            return total / count
        very_negative = ops.cast(-1e4, inputs.dtype)
        pooled = ops.max(ops.where(m > 0, inputs, very_negative), axis=1)
        any_valid = ops.cast(ops.sum(m, axis=1) > 0, inputs.dtype)
        return pooled * any_valid

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
