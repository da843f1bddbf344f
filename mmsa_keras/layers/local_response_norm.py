"""Local response normalisation across channels, as Caffe's AlexNet computes it (Krizhevsky et al., 2012)."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.LocalResponseNormalization")
class LocalResponseNormalization(keras.layers.Layer):
    """`x / (k + alpha / size * sum of x² over `size` neighbouring channels) ** beta`, channels last.

    Caffe's `LRN` layer (`ACROSS_CHANNELS`), with its parameters: the sum runs
    over the `size` channels centred on each channel (fewer at the edges), and
    `alpha` is divided by `size` as Caffe does. BVLC AlexNet: size 5, alpha
    1e-4, beta 0.75, k 1, after the ReLU of conv1 and conv2 and before their
    pooling. Equal to `tf.nn.local_response_normalization(depth_radius=(size -
    1) // 2, bias=k, alpha=alpha / size, beta=beta)` (tested). Computed in
    float32 under mixed precision (a float16 square overflows above 256). No
    weights.

    Args:
        size: odd number of channels summed over. Default 5.
        alpha: scale of the sum (divided by `size`). Default 1e-4.
        beta: exponent. Default 0.75.
        k: added constant. Default 1.

    Example:
    >>> layer = mmsa_keras.layers.LocalResponseNormalization()
    >>> tuple(layer(np.ones((2, 4, 4, 8))).shape)
    (2, 4, 4, 8)
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        if int(size) < 1 or int(size) % 2 == 0:
            raise ValueError(f"size must be a positive odd number, got {size}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        radius = (self.size - 1) // 2
        squares = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1) + [[radius, radius]])
        channels = x.shape[-1]
        total = sum(squares[..., i : i + channels] for i in range(self.size))
        out = x / ops.power(self.k + (self.alpha / self.size) * total, self.beta)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)
        return config
