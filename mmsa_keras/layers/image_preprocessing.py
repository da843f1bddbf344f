"""The `preprocess_input` of keras.applications models as a serialisable layer."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export

#: ImageNet channel means in RGB order (Caffe-style preprocessing, ResNet-50)
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)


@mmsa_export("mmsa_keras.layers.ApplicationPreprocessing")
class ApplicationPreprocessing(keras.layers.Layer):
    """Maps 0..255 RGB pixels to what a keras.applications backbone expects.

    Modes (those of `keras.applications.imagenet_utils.preprocess_input`):
        * "caffe": RGB → BGR, minus the ImageNet channel means (ResNet-50);
        * "tf": x / 127.5 − 1 (MobileNetV2, InceptionV3);
        * "torch": x / 255, minus mean, divided by std per channel.

    Putting it inside the encoder keeps training, feature extraction and the
    exported model on exactly the same preprocessing.
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf", "torch"):
            raise ValueError(f"mode must be caffe, tf or torch, got {mode!r}")
        self.mode = mode

    def call(self, images):
        x = ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor([0.485, 0.456, 0.406], self.compute_dtype)
            std = ops.convert_to_tensor([0.229, 0.224, 0.225], self.compute_dtype)
            return (x / 255.0 - mean) / std
        x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor(IMAGENET_MEAN_RGB[::-1], self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
