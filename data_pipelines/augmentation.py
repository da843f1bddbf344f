"""Image augmentation (paper 000, section 3.1) and class balancing by augmentation."""

from __future__ import annotations

from collections import defaultdict

import keras
import numpy as np

from data_pipelines.post import Post


def make_augmenter(
    seed: int = 0,
    rotation_degrees: float = 40.0,
    shift: float = 0.2,
    shear: float = 0.2,
    zoom: float = 0.2,
) -> keras.Sequential:
    """Keras preprocessing layers: rotation up to 40 degrees, width/height shift
    20%, shear 20% and zoom 20% (paper 000's settings), each seeded.

    Works on batches `[B, H, W, 3]` with values in [0, 255] and keeps shape and
    value range (reflection fill, bilinear interpolation).
    """
    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation_degrees / 360.0, fill_mode="reflect", seed=seed),
            keras.layers.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomShear(shear, shear, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom(zoom, zoom, fill_mode="reflect", seed=seed + 3),
        ],
        name="augmentation",
    )


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
