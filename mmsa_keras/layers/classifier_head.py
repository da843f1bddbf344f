"""The dropout → dense → dropout → softmax classifier head shared by the fusion models."""

import keras

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.ClassifierHead")
class ClassifierHead(keras.layers.Layer):
    """Dropout(d) → Dense(hidden, relu) → Dropout(d) → Dense(num_classes) → softmax.

    Paper 002's head (d = 0.5, hidden = 128). The output is class
    probabilities (or logits with `activation=None`) in float32 even under a
    mixed-precision policy.

    Args:
        num_classes: int. Number of classes. Default 3.
        hidden_dim: int or None. Width of the hidden layer; None for a single
            linear layer. Default 128.
        dropout: float. Dropout rate before each dense layer. Default 0.5.
        activation: "softmax" or None. Default "softmax".
    """

    def __init__(self, num_classes=3, hidden_dim=128, dropout=0.5, activation="softmax", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.activation = activation

    def build(self, input_shape):
        self.dropout_1 = keras.layers.Dropout(self.dropout, name="dropout_1", dtype=self.dtype_policy)
        width = input_shape[-1]
        if self.hidden_dim:
            self.hidden = keras.layers.Dense(self.hidden_dim, activation="relu", name="hidden", dtype=self.dtype_policy)
            self.hidden.build(input_shape)
            self.dropout_2 = keras.layers.Dropout(self.dropout, name="dropout_2", dtype=self.dtype_policy)
            width = self.hidden_dim
        self.logits = keras.layers.Dense(self.num_classes, name="logits", dtype=self.dtype_policy)
        self.logits.build((*input_shape[:-1], width))
        self.built = True

    def call(self, inputs, training=None):
        x = self.dropout_1(inputs, training=training)
        if self.hidden_dim:
            x = self.dropout_2(self.hidden(x), training=training)
        logits = keras.ops.cast(self.logits(x), "float32")
        if self.activation == "softmax":
            return keras.ops.softmax(logits, axis=-1)
        return logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor((*inputs.shape[:-1], self.num_classes), dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "activation": self.activation,
        }
