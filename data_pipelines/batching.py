"""Batching shared by the raw-post pipeline and the feature store: the one epoch-seeded input stream.

`epoch_stream` is the contract bitwise resume depends on: epoch e's order of
posts comes from `(seed, e)` alone (a stateless shuffle), so a run resumed after
epoch k sees the batches an uninterrupted run would have seen. The raw
pipeline (`Preprocessor.stream`) and the feature store (`feature_stream`) give
it their own `assemble(epoch, k, idx)`, which turns batch k's post indices into
model inputs.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from data_pipelines.augmentation import balance_posts

AUTOTUNE = tf.data.AUTOTUNE


def prefetched(ds: tf.data.Dataset) -> tf.data.Dataset:
    """`ds.prefetch(AUTOTUNE)`, its background threads started when the iterator is created.

    By default tf.data starts them on the first `next()`, which for `fit` is
    inside the first train step, after the step has been traced: the first
    batch was decoded, augmented and tokenised while the step waited. Started
    with the iterator, it is made while Keras traces the step.
    """
    options = tf.data.Options()
    options.experimental_warm_start = True
    return ds.prefetch(AUTOTUNE).with_options(options)


TOKEN_KEYS = ("token_ids", "padding_mask", "segment_ids")


def trim_padding(inputs: dict) -> dict:
    """Cut the token inputs to the longest unpadded sequence of the batch (at least one position).

    For encoders whose padding is masked and whose positions count from the
    start (keras-hub backbones), the outputs at the real tokens do not change.
    """
    if "padding_mask" not in inputs:
        return inputs
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(inputs["padding_mask"], tf.int32), axis=1)), 1)
    return {k: (v[:, :length] if k in TOKEN_KEYS else v) for k, v in inputs.items()}


def stream_posts(posts, batch_size: int, seed: int, with_labels: bool, balance_to, drop_remainder: bool):
    """The posts a stream iterates (labelled ones when training, balanced if asked) and its steps per epoch."""
    if with_labels:
        posts = [p for p in posts if p.label is not None]
    if balance_to:
        posts = balance_posts(posts, balance_to, seed=seed)
    if not posts:
        raise ValueError("no posts to build a dataset from")
    n = len(posts)
    steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    if steps == 0:
        raise ValueError(f"{n} posts make no whole batch of {batch_size}")
    return posts, steps


def with_labels_of(posts, class_weights, with_labels: bool):
    """`attach(inputs, idx)`: the element a stream yields, `inputs`, `(inputs, label)` or `(inputs, label,
    class weight of the label)`."""
    labels = tf.constant([p.label if p.label is not None else -1 for p in posts], tf.int32)
    weights = None if class_weights is None else tf.constant(np.asarray(class_weights, np.float32))

    def attach(inputs, idx):
        if not with_labels:
            return inputs
        y = tf.gather(labels, idx)
        return (inputs, y) if weights is None else (inputs, y, tf.gather(weights, y))

    return attach


def epoch_stream(
    n: int, batch_size: int, seed: int, epochs: int, initial_epoch: int, shuffle: bool, drop_remainder: bool, assemble
):
    """Epochs `initial_epoch .. epochs-1` of batches of post indices, each mapped by `assemble(epoch, k, idx)`;
    each epoch's order from `(seed, epoch)` alone."""
    seed_t = tf.constant(int(seed), tf.int64)

    def one_epoch(epoch):
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([seed_t, epoch]))
        ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)
        return ds.enumerate().map(
            lambda k, idx: assemble(epoch, k, idx), num_parallel_calls=AUTOTUNE, deterministic=True
        )

    return prefetched(tf.data.Dataset.range(initial_epoch, max(epochs, initial_epoch + 1)).flat_map(one_epoch))
