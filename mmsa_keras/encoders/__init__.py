"""Image and text encoders, buildable by name (DESIGN.md section 5)."""

from __future__ import annotations

from mmsa_keras.encoders.image_encoders import mvso_pixel_cnn, small_cnn
from mmsa_keras.encoders.text_encoders import bag_of_embeddings, bilstm, small_transformer

IMAGE_ENCODERS = {"small_cnn": small_cnn, "mvso_pixel_cnn": mvso_pixel_cnn}
TEXT_ENCODERS = {"small_transformer": small_transformer, "bag_of_embeddings": bag_of_embeddings,
                 "bilstm": bilstm}


def build_image_encoder(name: str, **kwargs):
    """Build a named image encoder (`small_cnn`, ...) with keyword arguments."""
    if name not in IMAGE_ENCODERS:
        raise ValueError(f"unknown image encoder {name!r}; known: {sorted(IMAGE_ENCODERS)}")
    return IMAGE_ENCODERS[name](**kwargs)


def build_text_encoder(name: str, **kwargs):
    """Build a named text encoder (`small_transformer`, `bag_of_embeddings`, ...)."""
    if name not in TEXT_ENCODERS:
        raise ValueError(f"unknown text encoder {name!r}; known: {sorted(TEXT_ENCODERS)}")
    return TEXT_ENCODERS[name](**kwargs)


__all__ = ["IMAGE_ENCODERS", "TEXT_ENCODERS", "bag_of_embeddings", "bilstm", "build_image_encoder",
           "build_text_encoder", "mvso_pixel_cnn", "small_cnn", "small_transformer"]
