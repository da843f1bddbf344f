"""Image and text encoders by name, with what each needs from the data pipeline.

Every name maps to an `EncoderSpec`: a builder, and for text encoders the
tokenizer they need (a `VocabularyTokenizer` learned on the training split for
encoders trained from scratch, or the keras-hub tokenizer of a pretrained
backbone), for image encoders their input side and pixel normalisation.
A text encoder name that is not registered is taken as a keras-hub preset name
or a local preset / Hugging Face directory (docs/ARCHITECTURE.md §9).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from data_pipelines.tokenization import HubTokenizer
from mmsa_keras.encoders.image_encoders import (
    alexnet,
    inception_v3,
    keras_application,
    mobilenet_v2,
    mvso_pixel_cnn,
    resnet50,
    small_cnn,
)
from mmsa_keras.encoders.text_encoders import (
    bag_of_embeddings,
    bilstm,
    hub_backbone,
    minilm_l6,
    minilm_l6_directory,
    small_transformer,
)
from mmsa_keras.errors import UsageError


@dataclasses.dataclass
class EncoderSpec:
    builder: Callable[..., Any]
    pretrained: bool = False  # sized by its weights (no vocabulary_size / image_size from the data)
    image_size: int | None = None  # default input side of an image encoder
    normalisation: str = "mean_std"  # pixel normalisation the pipeline applies before it
    preset: Callable[[], str] | None = None  # the keras-hub tokenizer preset of a text encoder
    imagenet: bool = False  # keras.applications ImageNet weights exist for it


IMAGE_ENCODERS = {
    "small_cnn": EncoderSpec(small_cnn),
    "mvso_pixel_cnn": EncoderSpec(mvso_pixel_cnn, image_size=32),
    "resnet50": EncoderSpec(resnet50, pretrained=True, image_size=224, normalisation="none", imagenet=True),
    "mobilenet_v2": EncoderSpec(mobilenet_v2, pretrained=True, image_size=224, normalisation="none", imagenet=True),
    "inception_v3": EncoderSpec(inception_v3, pretrained=True, image_size=299, normalisation="none", imagenet=True),
    "alexnet": EncoderSpec(alexnet, pretrained=True, image_size=227, normalisation="none"),
}
TEXT_ENCODERS = {
    "small_transformer": EncoderSpec(small_transformer),
    "bag_of_embeddings": EncoderSpec(bag_of_embeddings),
    "bilstm": EncoderSpec(bilstm),
    "minilm_l6": EncoderSpec(minilm_l6, pretrained=True, preset=minilm_l6_directory),
}


def text_encoder_spec(name: str) -> EncoderSpec:
    """The spec of a named text encoder, or of a keras-hub preset / local directory."""
    if name in TEXT_ENCODERS:
        return TEXT_ENCODERS[name]
    return EncoderSpec(lambda **kw: hub_backbone(name, **kw), pretrained=True, preset=lambda: name)


def image_encoder_spec(name: str) -> EncoderSpec:
    if name not in IMAGE_ENCODERS:
        raise UsageError(f"unknown image encoder {name!r}; known: {', '.join(sorted(IMAGE_ENCODERS))}")
    return IMAGE_ENCODERS[name]


def is_text_encoder_name(name: str) -> bool:
    """A registered text encoder, a local directory or something shaped like a keras-hub preset name."""
    return (
        name in TEXT_ENCODERS or os.path.isdir(name) or ("_" in name and "/" not in name and not name.startswith("."))
    )


def build_image_encoder(name: str, **kwargs):
    """Build a named image encoder (`small_cnn`, `resnet50`, `alexnet`, ...)."""
    return image_encoder_spec(name).builder(**kwargs)


def build_text_encoder(name: str, **kwargs):
    """Build a named text encoder, or a keras-hub backbone from a preset name or directory."""
    if not is_text_encoder_name(name):
        raise UsageError(
            f"unknown text encoder {name!r}; known: {', '.join(sorted(TEXT_ENCODERS))}, "
            "a keras-hub preset name or a local directory"
        )
    return text_encoder_spec(name).builder(**kwargs)


def tokenizer_for(name: str, sequence_length: int):
    """The tokenizer a text encoder needs (None: learn a vocabulary on the training split)."""
    spec = text_encoder_spec(name)
    if spec.preset is None:
        return None

    return HubTokenizer(spec.preset(), sequence_length=sequence_length)


__all__ = [
    "EncoderSpec",
    "IMAGE_ENCODERS",
    "TEXT_ENCODERS",
    "is_text_encoder_name",
    "alexnet",
    "bag_of_embeddings",
    "bilstm",
    "build_image_encoder",
    "build_text_encoder",
    "hub_backbone",
    "image_encoder_spec",
    "inception_v3",
    "keras_application",
    "minilm_l6",
    "mobilenet_v2",
    "mvso_pixel_cnn",
    "resnet50",
    "small_cnn",
    "small_transformer",
    "text_encoder_spec",
    "tokenizer_for",
]


def standardized_encoder(encoder, stats: dict):
    """`encoder` followed by a fixed per-channel standardisation of some of its outputs.

    `stats` maps an output name (`pooled_output`, `feature_map`) to `(mean,
    std)` over its last axis, computed on the training split's stored features
    (`FeatureSet.statistics`). The head trained on the standardised stored
    features then sees, in the saved raw-input model, exactly what it was
    trained on. The layers are `keras.layers.Normalization` with the statistics
    in their config, so the model saves, loads and exports like any other.
    """
    spec = encoder.input
    if isinstance(spec, dict):
        inputs = {k: keras.Input(t.shape[1:], dtype=t.dtype, name=k) for k, t in spec.items()}
    else:
        inputs = keras.Input(spec.shape[1:], dtype=spec.dtype, name="images")
    outputs = dict(encoder(inputs))
    for name, (mean, std) in stats.items():
        outputs[name] = keras.layers.Normalization(
            axis=-1,
            mean=np.asarray(mean, np.float32),
            variance=np.square(np.asarray(std, np.float32)),
            name=f"{name}_standardization",
        )(outputs[name])
    return keras.Model(inputs, outputs, name=f"{encoder.name}_standardized")
