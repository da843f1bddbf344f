"""Image augmentation (paper 000, section 3.1) and class balancing by augmentation.

`augment_batch(images, seed)` applies, per image, a random rotation (up to 40
degrees), width/height shift (20%), shear (20%) and zoom (20%) — paper 000's
settings — composed into one projective transform, so a whole batch is warped
by a single vectorised `ImageProjectiveTransformV3` call. It is stateless: the
random draws come from `seed` (a `[2]` integer tensor), which the training
pipeline derives from (run seed, epoch, batch index). The same run therefore
sees the same augmented images whether or not it was interrupted and resumed.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import tensorflow as tf

from data_pipelines.post import Post

ROTATION_DEGREES = 40.0
SHIFT = 0.2
SHEAR = 0.2
ZOOM = 0.2


def augmentation_matrices(
    batch: int, height: int, width: int, seed, rotation_degrees=ROTATION_DEGREES, shift=SHIFT, shear=SHEAR, zoom=ZOOM
) -> tf.Tensor:
    """`[B, 8]` projective transforms (output → input pixel coordinates) of random
    rotation, shift, shear and zoom about the image centre."""
    seed = tf.cast(seed, tf.int32)
    draws = tf.random.stateless_uniform((batch, 6), seed=seed, minval=-1.0, maxval=1.0)
    theta = draws[:, 0] * (rotation_degrees * math.pi / 180.0)
    tx = draws[:, 1] * shift * float(width)
    ty = draws[:, 2] * shift * float(height)
    sh = draws[:, 3] * shear
    zx = 1.0 + draws[:, 4] * zoom
    zy = 1.0 + draws[:, 5] * zoom
    cos, sin = tf.cos(theta), tf.sin(theta)
    # A = R(theta) @ Shear(sh) @ Zoom(zx, zy), applied about the centre, then shifted
    a00 = cos * zx
    a01 = (cos * sh - sin) * zy
    a10 = sin * zx
    a11 = (sin * sh + cos) * zy
    cx, cy = (float(width) - 1.0) / 2.0, (float(height) - 1.0) / 2.0
    b0 = cx - a00 * cx - a01 * cy + tx
    b1 = cy - a10 * cx - a11 * cy + ty
    zeros = tf.zeros_like(a00)
    return tf.stack([a00, a01, b0, a10, a11, b1, zeros, zeros], axis=1)


def augment_batch(images: tf.Tensor, seed, **ranges) -> tf.Tensor:
    """Randomly rotate, shift, shear and zoom every image of `[B, H, W, 3]` (values kept, reflect fill)."""
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    height, width = images.shape[1], images.shape[2]
    transforms = augmentation_matrices(shape[0], height, width, seed, **ranges)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.stack([height, width]),
        fill_value=tf.constant(0.0, images.dtype),
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    out.set_shape(images.shape)
    return out


def balance_posts(posts: list[Post], per_class: int, seed: int = 0) -> list[Post]:
    """Resample labelled posts to exactly `per_class` per class (paper 000: 1,400).

    Classes with more posts are subsampled; classes with fewer are repeated,
    and the repeats differ because augmentation runs on every training image.
    The order is shuffled with `seed`.
    """
    rng = np.random.default_rng(seed)
    groups: dict[int, list[Post]] = defaultdict(list)
    for p in posts:
        if p.label is not None:
            groups[p.label].append(p)
    out: list[Post] = []
    for label in sorted(groups):
        group = groups[label]
        if len(group) >= per_class:
            idx = rng.choice(len(group), per_class, replace=False)
        else:
            extra = rng.choice(len(group), per_class - len(group), replace=True)
            idx = np.concatenate([np.arange(len(group)), extra])
        out.extend(group[i] for i in idx)
    order = rng.permutation(len(out))
    return [out[i] for i in order]
