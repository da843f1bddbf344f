"""Temperature scaling of class probabilities (Guo et al., 2017)."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.TemperatureScaling")
class TemperatureScaling(keras.layers.Layer):
    """Probabilities `[B, C]` → `softmax(log p / T)`: the same ranking, confidences made honest.

    T > 1 softens over-confident probabilities, T < 1 sharpens them; the
    predicted class never changes. T is fitted on the validation split by
    `mmsa_keras.calibration.fit_temperature` and is not trained by Keras.

    Args:
        temperature: float > 0. Default 1 (no change).
    """

    def __init__(self, temperature=1.0, **kwargs):
        kwargs["dtype"] = "float32"
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if not float(temperature) > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def call(self, probabilities):
        log_p = ops.log(ops.maximum(ops.cast(probabilities, "float32"), 1e-12))
        return ops.softmax(log_p / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature)
        return config
