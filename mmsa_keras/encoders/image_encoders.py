"""Image encoders. Contract: a Keras model taking `images` `[B, H, W, 3]` and
returning `{"pooled_output": [B, D], "feature_map": [B, h, w, C]}`.

The small CNN here is the encoder of the embedded default; the pretrained
keras.applications wrappers (ResNet-50, MobileNetV2, InceptionV3) and AlexNet
sit beside it.
"""

from __future__ import annotations

import keras


def small_cnn(image_size: int = 64, filters=(16, 32, 64), output_dim: int = 64,
              name: str = "small_cnn") -> keras.Model:
    """A small Conv-BN-ReLU-MaxPool CNN for the embedded default.

    Args:
        image_size: int. Input side. Default 64.
        filters: tuple of int. Channels of each block (each halves the side).
        output_dim: int. Channels of the final 1x1 conv = pooled width. Default 64.

    Example:
    >>> enc = mmsa_keras.encoders.small_cnn(image_size=32)
    >>> enc(np.zeros((2, 32, 32, 3)))["pooled_output"].shape
    (2, 64)
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    feature_map = keras.layers.Conv2D(output_dim, 1, activation="relu", name="project")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(feature_map)
    return keras.Model(images, {"pooled_output": pooled, "feature_map": feature_map}, name=name)


def mvso_pixel_cnn(image_size: int = 32, name: str = "mvso_pixel_cnn") -> keras.Model:
    """The raw-pixel CNN of paper 003, Table 6: Conv 96 → MaxPool → BatchNorm →
    Conv 256 → MaxPool → BatchNorm, flattened (the dense stack follows in the model).

    Input 32x32x3 in the paper. `pooled_output` is the flattened map.
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Conv2D(96, 3, padding="same", activation="relu", name="conv1")(images)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    feature_map = keras.layers.BatchNormalization(name="bn2")(x)
    flat = keras.layers.Flatten(name="flatten")(feature_map)
    return keras.Model(images, {"pooled_output": flat, "feature_map": feature_map}, name=name)
