"""Paper 004's early fusion (Table 4, row "Early fusion")."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model("early_fusion", "[γ; ψ] → Linear(h) → softmax", **PSI)
@mmsa_export("mmsa_keras.models.EarlyFusion")
class EarlyFusion(MultimodalModel):
    """[γ(i); ψ(s)] → Linear(h) → Linear(C) → softmax.

    Paper 004, section 3 and Example 1: the fusion layer concatenates the image
    and text vectors. Early fusion needs both modalities; here an absent one
    is a zero block of the concatenation (its presence flag), which is what the
    paper's Table 5 discussion assumes it cannot handle well.

    Args:
        text_encoder, image_encoder / feature shapes: raw or feature mode.
        num_classes: int. Default 8. hidden_dim: int. h = 100.
    """

    paper = "004"
    table = "Table 4 (Early fusion)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=8,
        hidden_dim=100,
        **kwargs,
    ):
        inputs = {}
        f = joint_fusion_features(inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape)
        x = keras.layers.Concatenate(name="concat")([f["image"], f["text"]])
        probs = low_rank_classifier(x, num_classes, hidden_dim)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
        )
