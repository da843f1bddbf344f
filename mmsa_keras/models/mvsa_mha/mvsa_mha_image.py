"""Paper 001's unimodal image classifier (MobileNetV2, average pooled)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence
from mmsa_keras.models.registration import register_model


@register_model("mvsa_mha_image", "MobileNetV2 average-pooled 1280-d → softmax", modalities=("image",))
@mmsa_export("mmsa_keras.models.MVSAMHAImage")
class MVSAMHAImage(MultimodalModel):
    """MobileNetV2 without classifier, spatial average (1280-d) → Dropout → Dense(C) softmax.

    Paper 001: "a modified MobileNetV2 model (classifier layers removed). The
    output feature maps are averaged spatially to create embeddings"; fine-tuned
    alone first, then frozen inside `MVSAMHAFusion`.

    Args:
        image_encoder / image_feature_shape: raw or feature mode.
        num_classes: int. Default 3. dropout: float. Default 0.2.
    """

    paper = "001"
    table = "Results (image model)"

    def __init__(self, image_encoder=None, image_feature_shape=None, num_classes=3, dropout=0.2, **kwargs):
        inputs = {}
        image = image_branch(inputs, image_encoder, image_feature_shape)
        x = masked_by_presence(image["pooled"], image["present"], "image_presence")
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        probs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(logits)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            dropout=dropout,
        )
