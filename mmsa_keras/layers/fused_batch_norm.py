"""Batch normalisation that trains through TensorFlow's fused kernel.

Keras 3's `BatchNormalization` computes a training batch's moments and the
normalisation from separate element-wise ops. Traced into a train step with its
gradient, that is about 65 graph nodes per layer (broadcasts, reductions,
their gradients); ResNet-50 has 53 such layers. `FusedBatchNormalization` does
the same computation through one `FusedBatchNormV3` node and its one gradient
node, as `tf.keras` 2 did by default:

* the OTE train step (MiniLM-L6 + ResNet-50) has 10,056 graph nodes instead
  of 13,519, and fewer to trace and optimise before the first step;
* ResNet-50 at 224 px, batch 16, 2 CPU cores: a training step 2.17 s → 1.52 s,
  the first (traced) step 9.8 s → 7.7 s (`benchmarks/finetune_memory.py`
  measures the whole fine-tuning run);
* the same outputs, input/scale/offset gradients and moving statistics as
  `BatchNormalization` to float32 round-off (tested): the kernel's batch
  variance carries Bessel's correction, which is undone before the moving
  variance is updated, so the statistics stay those of Keras 3;
* inference (and a frozen layer, which Keras 3 runs in inference mode) is
  `BatchNormalization`'s own code, so stored features and exports do not change;
  weights files load into either class (see the class).

Anything the fused kernel does not cover — a mask, batch renormalisation,
`synchronized` moments across replicas, an axis other than the last of a 4-D
input, or a backend other than TensorFlow — falls back to `BatchNormalization`.

`fuse_batch_norm(model)` converts the plain `BatchNormalization` layers of a
built model (a `keras.applications` backbone) in place; the image encoders call
it, so every image branch trains through the fused kernel.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.keras_compat import nested_layers


@mmsa_export("mmsa_keras.layers.FusedBatchNormalization")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training step runs TensorFlow's fused kernel.

    Takes the same arguments and has the same weights, outputs and moving
    statistics; see the module docstring. Public name `FusedBatchNormalization`;
    the class itself is named `BatchNormalization` (saved as
    `mmsa_keras>BatchNormalization`) because Keras 3 files a layer's weights
    under its class name (`.../batch_normalization_3/vars`): so named, a
    weights file is interchangeable between this layer and Keras' own, both
    ways, and a layer's automatic name is the same.

    Example:
    >>> layer = mmsa_keras.layers.FusedBatchNormalization()
    >>> tuple(layer(np.ones((2, 4, 4, 3)), training=True).shape)
    (2, 4, 4, 3)
    """

    def _fusable(self, inputs, training, mask) -> bool:
        rank = len(inputs.shape)
        return (
            bool(training)
            and self.trainable
            and mask is None
            and not self.renorm
            and not getattr(self, "synchronized", False)
            and rank == 4
            and self.axis in (-1, rank - 1)
            and keras.backend.backend() == "tensorflow"
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)

        x = tf.cast(inputs, "float32")  # as BatchNormalization: computed in float32 under mixed precision
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels], "float32")
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels], "float32")
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=tf.constant([], "float32"),
            variance=tf.constant([], "float32"),
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        # the kernel returns the batch variance with Bessel's correction, n / (n - 1); Keras 3 keeps the
        # biased one in its moving variance, so the correction is undone (n = 1: both are 0)
        n = tf.cast(tf.size(x, out_type=tf.int64) // channels, "float32")
        variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum)
        )
        return tf.cast(y, self.compute_dtype)


FusedBatchNormalization = BatchNormalization


def fuse_batch_norm(model: keras.Model) -> int:
    """Make every plain `BatchNormalization` layer of `model` (nested ones included) a
    `FusedBatchNormalization`, in place; returns how many were converted.

    The subclass adds no state and the same call signature, so a built layer
    changes class without changing its weights, config or what it computes;
    a saved model records it as `mmsa_keras>BatchNormalization`.
    """
    if keras.backend.backend() != "tensorflow":
        return 0
    converted = 0
    for layer in nested_layers(model):
        if type(layer) is keras.layers.BatchNormalization:
            layer.__class__ = FusedBatchNormalization
            converted += 1
    return converted
