"""Nearest-label prediction in a label-embedding space (paper 003, Tables 3, 4, 7, 9)."""

import keras
import numpy as np
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.NearestLabel")
class NearestLabel(keras.layers.Layer):
    """Cosine similarity of a predicted embedding to each class's label vector.

    Paper 003's "embedding classifier" outputs a 50-d vector trained towards
    the GloVe vector of the label word; "the label assigned is the one whose
    embedding is closest". This layer holds the label vectors (fixed, not
    trained) and returns the `[B, C]` cosine similarities, whose argmax is the
    nearest label.

    Args:
        label_vectors: array `[C, E]`, one row per class in class order.

    Example:
    >>> head = mmsa_keras.layers.NearestLabel(np.eye(3, 50))
    """

    def __init__(self, label_vectors, **kwargs):
        super().__init__(**kwargs)
        self.label_vectors = np.asarray(label_vectors, dtype="float32").tolist()

    def build(self, input_shape):
        values = np.asarray(self.label_vectors, "float32")
        if values.shape[1] != input_shape[-1]:
            raise ValueError(f"label vectors have {values.shape[1]} dims, the input has {input_shape[-1]}")
        self.labels = self.add_weight(
            name="label_vectors", shape=values.shape, initializer=keras.initializers.Constant(values), trainable=False
        )
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        x = x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-8)
        labels = self.labels / ops.maximum(ops.norm(self.labels, axis=-1, keepdims=True), 1e-8)
        return ops.matmul(x, ops.transpose(labels))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.label_vectors))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((*inputs.shape[:-1], len(self.label_vectors)), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "label_vectors": self.label_vectors}
