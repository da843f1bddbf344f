"""Paper 003's "feature concatenation + linear layer" (Table 8)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence, text_branch
from mmsa_keras.models.mvso_gated.stacks import softmax_head
from mmsa_keras.models.registration import register_model


@register_model("mvso_concat_linear", "[image 2048; text 600] → linear softmax", text_encoder="bilstm")
@mmsa_export("mmsa_keras.models.MVSOConcatLinear")
class MVSOConcatLinear(MultimodalModel):
    """[ResNet-50 2048-d image features; BiLSTM 600-d text features] → Dense(C) softmax.

    Paper 003, section 4.2: "we concatenated the text and image features and
    implemented a simple linear regression on top of the concatenated feature
    vector" (80.7%). An absent modality contributes a zero block.

    Args:
        text_encoder, image_encoder / feature shapes: raw or feature mode.
        num_classes: int. Default 2.
    """

    paper = "003"
    table = "Table 8 (concatenation + linear)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=2,
        **kwargs,
    ):
        inputs = {}
        text = text_branch(inputs, text_encoder, text_feature_shape)
        image = image_branch(inputs, image_encoder, image_feature_shape)
        t = masked_by_presence(text["pooled"], text["present"], "text_presence")
        i = masked_by_presence(image["pooled"], image["present"], "image_presence")
        probs = softmax_head(keras.layers.Concatenate(name="concat")([t, i]), num_classes)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
        )
