"""Image encoders. Contract: a Keras model taking `images` `[B, H, W, 3]` and
returning `{"pooled_output": [B, D], "feature_map": [B, h, w, C]}`.

The small CNN here is the encoder of the embedded default; the pretrained
keras.applications wrappers (ResNet-50, MobileNetV2, InceptionV3) and AlexNet
sit beside it.
"""

from __future__ import annotations

import os
import re

import keras

from mmsa_keras.layers.fused_batch_norm import FusedBatchNormalization, fuse_batch_norm
from mmsa_keras.layers.image_preprocessing import ApplicationPreprocessing
from mmsa_keras.layers.local_response_norm import LocalResponseNormalization


def small_cnn(image_size: int = 64, filters=(16, 32, 64), output_dim: int = 64, name: str = "small_cnn") -> keras.Model:
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
        x = FusedBatchNormalization(name=f"bn{i + 1}")(x)
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
    x = FusedBatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    feature_map = FusedBatchNormalization(name="bn2")(x)
    flat = keras.layers.Flatten(name="flatten")(feature_map)
    return keras.Model(images, {"pooled_output": flat, "feature_map": feature_map}, name=name)


# --------------------------------------------------------------------------- pretrained
#: keras.applications backbones: constructor, default input side, preprocessing mode,
#: and the regular expression naming a layer's block (for unfreezing the top k blocks)
APPLICATIONS = {
    "resnet50": ("ResNet50", 224, "caffe", r"^(conv\d_block\d+|conv1)"),
    "mobilenet_v2": ("MobileNetV2", 224, "tf", r"^(block_\d+|expanded_conv|Conv1|Conv_1)"),
    "inception_v3": ("InceptionV3", 299, "tf", r"^(mixed\d+|conv2d_\d+|batch_normalization_\d+)"),
}


def _block_of(name: str, pattern: str) -> str | None:
    m = re.match(pattern, name)
    return m.group(1) if m else None


def parse_unfreeze(value) -> int | str:
    """`0`, `"0"`, `k`, `"k"` or `"all"` → 0, k or "all" (the one meaning of `--unfreeze`)."""
    if value in (None, False):
        return 0
    if value is True or str(value).strip().lower() == "all":
        return "all"
    try:
        k = int(str(value).strip())
    except ValueError:
        raise ValueError(f"unfreeze must be 0, all or a number of top blocks, got {value!r}") from None
    if k < 0:
        raise ValueError(f"unfreeze must be 0, all or a positive number of top blocks, got {value!r}")
    return k


def set_trainable_top_blocks(backbone: keras.Model, unfreeze, pattern: str) -> list[str]:
    """Freeze a backbone, then unfreeze its last `unfreeze` blocks; returns the unfrozen block names.

    `unfreeze`: 0 (all frozen), an int k, or "all". A block is a group of
    layers whose names share the prefix `pattern` matches (a ResNet stage
    block such as `conv5_block3`). BatchNorm layers of frozen blocks run in
    inference mode (Keras 3 semantics of trainable=False).
    """
    unfreeze = parse_unfreeze(unfreeze)
    blocks = []
    for layer in backbone.layers:
        block = _block_of(layer.name, pattern)
        if block and block not in blocks:
            blocks.append(block)
    if unfreeze == "all":
        backbone.trainable = True
        return blocks
    backbone.trainable = True
    if unfreeze > len(blocks):
        raise ValueError(f"{backbone.name} has {len(blocks)} blocks; cannot unfreeze the top {unfreeze}")
    keep = blocks[len(blocks) - unfreeze :] if unfreeze > 0 else []
    for layer in backbone.layers:
        layer.trainable = _block_of(layer.name, pattern) in set(keep)
    if not keep:
        backbone.trainable = False
    return keep


def keras_application(
    name: str,
    weights=None,
    image_size: int | None = None,
    unfreeze=0,
    encoder_name: str | None = None,
    input_preprocessing: str = "default",
) -> keras.Model:
    """A keras.applications backbone under the image-encoder contract.

    Args:
        name: "resnet50", "mobilenet_v2" or "inception_v3".
        weights: "imagenet" (downloaded by Keras on first use, then cached),
            a path to a `.h5` / `.weights.h5` / `.keras` weights file, or None
            (random initialisation).
        image_size: input side (default: the network's own, 224 or 299).
        unfreeze: 0 (frozen, the default), k (the top k blocks), or "all".
        input_preprocessing: "default" (the network's own `preprocess_input`,
            so the pipeline feeds 0..255 pixels) or "none" (the pipeline has
            already normalised the pixels, e.g. by the training split's
            per-channel mean/std as paper 000 did).

    The model takes 0..255 RGB images and applies the network's own
    `preprocess_input` (`ApplicationPreprocessing`), so the data pipeline uses
    normalisation "none". Outputs `pooled_output` (global average, 2048-d for
    ResNet-50 / InceptionV3, 1280-d for MobileNetV2) and `feature_map` (the
    last spatial map, 7x7x2048 for ResNet-50 at 224).
    """
    if name not in APPLICATIONS:
        raise ValueError(f"unknown application {name!r}; known: {sorted(APPLICATIONS)}")
    cls_name, default_size, mode, pattern = APPLICATIONS[name]
    size = image_size or default_size
    local_file = weights not in (None, "imagenet")
    backbone = getattr(keras.applications, cls_name)(
        include_top=False, weights=None if local_file else weights, input_shape=(size, size, 3)
    )
    if local_file:
        if not os.path.exists(weights):
            raise FileNotFoundError(f"{weights}: weights file not found")
        if str(weights).endswith(".keras"):
            backbone.set_weights(keras.saving.load_model(weights, compile=False).get_weights())
        else:
            backbone.load_weights(weights)
    fuse_batch_norm(backbone)  # trains through TensorFlow's fused kernel (mmsa_keras.layers.fused_batch_norm)
    set_trainable_top_blocks(backbone, unfreeze, pattern)
    if input_preprocessing not in ("default", "none"):
        raise ValueError(f"input_preprocessing must be default or none, got {input_preprocessing!r}")
    images = keras.Input((size, size, 3), name="images")
    x = images if input_preprocessing == "none" else ApplicationPreprocessing(mode, name="preprocess_input")(images)
    feature_map = backbone(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(feature_map)
    return keras.Model(images, {"pooled_output": pooled, "feature_map": feature_map}, name=encoder_name or name)


def resnet50(weights=None, image_size=None, unfreeze=0, input_preprocessing="default"):
    """ResNet-50 (papers 000, 002, 003): pooled 2048-d and the 7x7x2048 map."""
    return keras_application("resnet50", weights, image_size, unfreeze, input_preprocessing=input_preprocessing)


def mobilenet_v2(weights=None, image_size=None, unfreeze=0, input_preprocessing="default"):
    """MobileNetV2 (paper 001): average-pooled 1280-d and the 7x7x1280 map."""
    return keras_application("mobilenet_v2", weights, image_size, unfreeze, input_preprocessing=input_preprocessing)


def inception_v3(weights=None, image_size=None, unfreeze=0, input_preprocessing="default"):
    """InceptionV3 (paper 004): pooled 2048-d."""
    return keras_application("inception_v3", weights, image_size, unfreeze, input_preprocessing=input_preprocessing)


def alexnet(weights=None, image_size: int = 227, unfreeze=0, name: str = "alexnet") -> keras.Model:
    """AlexNet (Krizhevsky et al. 2012) returning the 4096-d fc7 features (paper 003).

    conv1 96x11x11/4 → max-pool → conv2 256x5x5 → max-pool → conv3 384x3x3 →
    conv4 384x3x3 → conv5 256x3x3 → max-pool → fc6 4096 → dropout → fc7 4096
    (ReLU), with Caffe's local response normalisation (size 5, alpha 1e-4,
    beta 0.75, k 1) after the ReLU of conv1 and conv2, before their pooling, as
    BVLC AlexNet has it. `weights`: a weights file saved from
    this model (e.g. converted Caffe/PyTorch weights), or None. Inputs are
    0..255 RGB, preprocessed Caffe-style inside the model.
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    x = ApplicationPreprocessing("caffe", name="preprocess_input")(images)
    specs = [
        ("conv1", 96, 11, 4, True),
        ("conv2", 256, 5, 1, True),
        ("conv3", 384, 3, 1, False),
        ("conv4", 384, 3, 1, False),
        ("conv5", 256, 3, 1, True),
    ]
    for layer_name, filters, kernel, stride, pool in specs:
        padding = "valid" if layer_name == "conv1" else "same"
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, activation="relu", name=layer_name)(x)
        if layer_name in ("conv1", "conv2"):
            x = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=1.0, name=f"{layer_name}_norm")(x)
        if pool:
            x = keras.layers.MaxPooling2D(3, 2, name=f"{layer_name}_pool")(x)
    feature_map = x
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
    x = keras.layers.Dropout(0.5, name="fc6_dropout")(x)
    fc7 = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
    model = keras.Model(images, {"pooled_output": fc7, "feature_map": feature_map}, name=name)
    if weights == "imagenet":
        raise ValueError(
            "alexnet has no ImageNet weights in keras.applications: give a weights file of this "
            "model (`mmsa convert-alexnet` converts PyTorch/Caffe AlexNet weights) or none"
        )
    if weights is not None:
        if str(weights).endswith(".keras"):
            model.set_weights(keras.saving.load_model(weights, compile=False).get_weights())
        else:
            model.load_weights(weights)
    set_trainable_top_blocks(model, unfreeze, r"^(conv\d|fc\d)")
    return model
