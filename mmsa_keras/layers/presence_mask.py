"""Zero a modality's vectors for the posts where that modality is absent."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.PresenceMask")
class PresenceMask(keras.layers.Layer):
    """Multiplies `[B, ...]` features by a `[B]` presence flag (1 present, 0 absent).

    The fusion models use it so that an absent image or caption contributes a
    zero vector rather than the encoder's response to a blank input
    (docs/ARCHITECTURE.md §2).

    Example:
    >>> mmsa_keras.layers.PresenceMask()([np.ones((2, 3)), np.array([1.0, 0.0])])
    """

    def call(self, inputs):
        x, present = inputs
        present = ops.cast(present, x.dtype)
        shape = [-1] + [1] * (len(x.shape) - 1)
        return x * ops.reshape(present, shape)

    def compute_output_shape(self, input_shape):
        return input_shape[0]
