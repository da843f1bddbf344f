"""The Weighted Average Neural Network of paper 000: a `keras.Sequential` late-fusion head."""

import keras

from mmsa_keras.models.registration import register_model


@register_model(
    "wann",
    "keras.Sequential head over the two models' concatenated probabilities",
    modalities=(),
    paper="000",
    table="Tables 3, 4 (WANN)",
)
def wann(
    num_classes: int = 3, num_models: int = 2, dropout: float = 0.3, l2: float = 1e-3, name: str = "wann"
) -> keras.Sequential:
    """Dense(64, relu, L2) → BatchNorm → Dropout → Dense(32, relu) → BatchNorm →
    Dropout → Dense(C) softmax over the concatenated class probabilities.

    Paper 000, section 3.3: "a Sequential model with three fully connected
    layers, populated with dropout and batch normalization layers in between
    each dense layer ... The input dense layer has 64 neurons, a ReLU
    activation function, and regularization function. The intermediate Dense
    layer has 32 input neurons. The last layer uses a SoftMax activation". The
    paper gives neither the dropout rate nor the regulariser's weight: 0.3 and
    L2(1e-3) here, both arguments. Adam 1e-3, categorical cross-entropy, 50
    epochs, early stopping with patience 5 (experiment config).

    Input: `[B, num_models * num_classes]` (CNN then text probabilities).
    """
    return keras.Sequential(
        [
            keras.Input((num_models * num_classes,), name="unimodal_probabilities"),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(l2), name="dense_64"),
            keras.layers.BatchNormalization(name="bn_1"),
            keras.layers.Dropout(dropout, name="dropout_1"),
            keras.layers.Dense(32, activation="relu", name="dense_32"),
            keras.layers.BatchNormalization(name="bn_2"),
            keras.layers.Dropout(dropout, name="dropout_2"),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="softmax"),
        ],
        name=name,
    )
