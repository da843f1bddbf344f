"""Multi-head attention from one modality's sequence to the other's (papers 001, 002)."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.CrossModalAttention")
class CrossModalAttention(keras.layers.Layer):
    """Queries from one modality attend to keys/values from the other.

    Paper 002's CMAC ("text states attend to the image sequence and the image
    sequence attends to the text states") and paper 001's attention across the
    two modality tokens. Padded key positions are masked; when the key
    modality is absent for a post (`key_present` = 0) the output for that post
    is zero, so nothing of a blank input leaks in.

    Call arguments:
        query: `[B, Lq, D]`.
        key: `[B, Lk, D]` (also used as value).
        key_mask: optional `[B, Lk]` padding mask of the key sequence.
        key_present: optional `[B]` presence flag of the key modality.

    Args:
        num_heads: int. Default 8.
        key_dim: int. Size of each head. Default 64.
        dropout: float. Attention dropout. Default 0.0.
        output_dim: int or None. Output width (default: the query width).
    """

    def __init__(self, num_heads=8, key_dim=64, dropout=0.0, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.output_dim = output_dim

    def build(self, query_shape, key_shape=None, key_mask_shape=None, key_present_shape=None):
        key_shape = key_shape or query_shape
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads,
            self.key_dim,
            dropout=self.dropout,
            output_shape=self.output_dim,
            name="attention",
            dtype=self.dtype_policy,
        )
        self.attention.build(query_shape, key_shape)
        self.built = True

    def call(self, query, key, key_mask=None, key_present=None, training=None):
        attention_mask = None
        if key_mask is not None:
            lq = ops.shape(query)[1]
            attention_mask = ops.repeat(ops.expand_dims(ops.cast(key_mask, "bool"), 1), lq, axis=1)
        out = self.attention(query, key, attention_mask=attention_mask, training=training)
        if key_present is not None:
            out = out * ops.reshape(ops.cast(key_present, out.dtype), (-1, 1, 1))
        return out

    def compute_output_shape(self, query_shape, key_shape=None, key_mask_shape=None, key_present_shape=None):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "output_dim": self.output_dim,
        }
