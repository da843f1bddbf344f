"""Paper 000's full pipeline: image CNN + caption classifier + WANN on their probabilities."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.instagram_wann.instagram_image_cnn import InstagramImageCNN
from mmsa_keras.models.instagram_wann.instagram_text_classifier import InstagramTextClassifier
from mmsa_keras.models.instagram_wann.wann import wann as build_wann
from mmsa_keras.models.registration import register_model

SUBMODELS = ("image_model", "text_model", "wann")


@register_model("instagram_wann", "image CNN + caption classifier + WANN over their probabilities")
@mmsa_export("mmsa_keras.models.InstagramWANN")
class InstagramWANN(MultimodalModel):
    """Runs the image CNN and the caption classifier on a post and fuses them with the WANN.

    Paper 000, section 3.3: the WANN is "trained on image+caption pairs after
    the two unimodal models are trained", on their concatenated class
    probabilities (Table 4 counts its predictions per CNN/RNN prediction pair).
    Given trained unimodal models, they are frozen (`freeze_unimodal`) and only
    the WANN learns; built from encoders instead, the whole pipeline trains
    end to end unless `freeze_unimodal=True`.

    Missing modality: the absent model's probabilities are replaced by the
    uniform distribution before the WANN, which carries no evidence.

    Outputs a dict: `probabilities` (WANN), `image_probabilities`,
    `text_probabilities`.

    Args:
        image_model, text_model: trained `InstagramImageCNN` /
            `InstagramTextClassifier` (or any models of the same contract).
        wann: a WANN `keras.Sequential` (default: a new one).
        image_encoder, text_encoder: used to build new unimodal models when
            `image_model` / `text_model` are not given.
        freeze_unimodal: bool or None. Default: True when models are given.
        num_classes: int. Default 3.
    """

    paper = "000"
    table = "Tables 3, 4 (WANN)"
    supports_feature_mode = False

    def __init__(
        self,
        image_model=None,
        text_model=None,
        wann=None,
        image_encoder=None,
        text_encoder=None,
        freeze_unimodal=None,
        num_classes=3,
        **kwargs,
    ):
        if freeze_unimodal is None:
            freeze_unimodal = image_model is not None and text_model is not None
        if image_model is None:
            image_model = InstagramImageCNN(
                image_encoder=image_encoder, freeze_encoder=False, num_classes=num_classes, name="instagram_image_cnn"
            )
        if text_model is None:
            text_model = InstagramTextClassifier(
                text_encoder=text_encoder, num_classes=num_classes, name="instagram_text_classifier"
            )
        wann = wann or build_wann(num_classes)
        if freeze_unimodal:
            image_model.trainable = False
            text_model.trainable = False
        inputs = {}
        for model in (image_model, text_model):
            for name, spec in model.input.items():
                if name not in inputs:
                    inputs[name] = keras.Input(spec.shape[1:], dtype=spec.dtype, name=name)
        p_image = image_model({k: inputs[k] for k in image_model.input})
        p_text = text_model({k: inputs[k] for k in text_model.input})
        uniform = 1.0 / num_classes
        img_w = ops.expand_dims(inputs["image_present"], -1)
        txt_w = ops.expand_dims(inputs["text_present"], -1)
        p_image_in = p_image * img_w + (1.0 - img_w) * uniform
        p_text_in = p_text * txt_w + (1.0 - txt_w) * uniform
        fused = wann(keras.layers.Concatenate(name="cnn_then_text")([p_image_in, p_text_in]))
        outputs = {"probabilities": fused, "image_probabilities": p_image, "text_probabilities": p_text}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.image_model, self.text_model, self.wann = image_model, text_model, wann
        self._store_config(freeze_unimodal=freeze_unimodal, num_classes=num_classes)

    def get_config(self):
        config = super().get_config()
        for key in SUBMODELS:
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in SUBMODELS:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
