"""Dense stacks and heads shared by paper 003's models.

Paper 003 writes its architectures as "In = 4096, ReLU, Dns = 2048 ReLU,
D-out = 0.7, Dns = 1024 ReLU, D-out = 0.7, ..., Dns = 3 S-max". A row is
given here as `hidden_units=(2048, 1024, ...)` and `dropouts=(0.7, 0.7, ...)`
(one rate per hidden layer, 0 for none); "In = 4096, ReLU" is
`input_activation="relu"`.
"""

from __future__ import annotations

import keras

from mmsa_keras.layers.nearest_label import NearestLabel


def dense_stack(x, hidden_units=(), dropouts=(), input_activation=None, name="stack"):
    """Optional input activation, then Dense(u, relu) [+ Dropout(d)] per layer."""
    dropouts = tuple(dropouts) + (0.0,) * (len(hidden_units) - len(dropouts))
    if input_activation:
        x = keras.layers.Activation(input_activation, name=f"{name}_input_{input_activation}")(x)
    for i, (units, rate) in enumerate(zip(hidden_units, dropouts)):
        x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense_{i}")(x)
        if rate:
            x = keras.layers.Dropout(rate, name=f"{name}_dropout_{i}")(x)
    return x


def softmax_head(x, num_classes, name="classifier"):
    logits = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name=f"{name}_softmax")(logits)


def embedding_head(x, label_vectors, name="label_embedding"):
    """Linear projection to the label space + nearest-label cosine scores."""
    dim = len(label_vectors[0])
    embedding = keras.layers.Dense(dim, dtype="float32", name=f"{name}_projection")(x)
    scores = NearestLabel(label_vectors, name=f"{name}_nearest")(embedding)
    return embedding, scores
