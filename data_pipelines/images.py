"""Image decoding shared by the training pipeline, the scan and the exported model.

One function, `decode_image_bytes`, turns encoded bytes (JPEG, PNG, GIF: first
frame, BMP; grayscale and RGBA turned into RGB) into a float32 `[S, S, 3]` image
with values in [0, 255]. The training pipeline and the SavedModel's serving
signature both call it, so a served post sees exactly the pixels a trained one did.
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from data_pipelines.report import DataReport


def decode_image_bytes(image_bytes: tf.Tensor, image_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode one encoded image (scalar string) to `[S, S, 3]` float32 in [0, 255].

    An empty string means "no image": the result is a zero image and a presence
    flag of 0. Returns `(image, present)`.
    """
    present = tf.strings.length(image_bytes) > 0

    def _decode():
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), (image_size, image_size))
        return tf.clip_by_value(image, 0.0, 255.0)

    def _empty():
        return tf.zeros((image_size, image_size, 3), tf.float32)

    image = tf.cond(present, _decode, _empty)
    image.set_shape((image_size, image_size, 3))
    return image, tf.cast(present, tf.float32)


def read_image_file(path: tf.Tensor) -> tf.Tensor:
    """Read a file's bytes in graph; an empty path gives an empty string."""
    return tf.cond(
        tf.strings.length(path) > 0, lambda: tf.io.read_file(path), lambda: tf.constant(b"")
    )


def _clean_tf_error(error: Exception) -> str:
    """TF's error text without the op/function wrappers."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]", "", text)
    return text.strip()[:200]


def check_image_file(path: str) -> tuple[str | None, str]:
    """Check that `path` exists and decodes with the pipeline's own decoder.

    Returns `(problem_kind, message)`; `problem_kind` is None for a good image.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return "missing_image", "file not found"
    if size == 0:
        return "empty_image", "zero bytes"
    try:
        with open(path, "rb") as f:
            raw = f.read()
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
        if int(tf.size(image)) == 0:
            return "undecodable_image", "decoded to an empty image"
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        return "undecodable_image", _clean_tf_error(e)
    return None, ""


def scan_images(posts, report: DataReport, verbose: bool = True) -> int:
    """Check every post's image; a bad one becomes a missing image (counted).

    Shows a progress bar. Returns the number of posts whose image was dropped.
    """
    import keras

    with_images = [p for p in posts if p.image_path]
    bar = keras.utils.Progbar(len(with_images), unit_name="image") if verbose and with_images else None
    if bar is not None:
        print("Checking images", flush=True)
    dropped = 0
    for i, post in enumerate(with_images):
        kind, message = check_image_file(post.image_path)
        if kind is not None:
            report.add(kind, post.image_path, message)
            post.meta.setdefault("dropped_image", post.image_path)
            post.image_path = None
            dropped += 1
        if bar is not None and ((i + 1) % 50 == 0 or i + 1 == len(with_images)):
            bar.update(i + 1)
    return dropped


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of a `[N, H, W, 3]` array."""
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))
