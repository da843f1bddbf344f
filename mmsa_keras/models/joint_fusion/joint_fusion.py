"""Paper 004's joint fusion (Tables 4 and 5, row "Joint fusion")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.modality_pooling import ModalityPooling
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model("joint_fusion", "max/average pooling of projected γ and ψ → Linear(h) → softmax", **PSI)
@mmsa_export("mmsa_keras.models.JointFusion")
class JointFusion(MultimodalModel):
    """pooling(W̃γ(i), ψ(s)) → Linear(h) → Linear(C) → softmax.

    Paper 004, section 4.3, equation 10: the image vector is projected into
    the text space by a linear layer and the two are pooled component-wise
    (max, or average). Missing modality: the pooling ignores the absent vector
    exactly (`ModalityPooling` with the presence flags), so a post with only
    text (or only an image) is classified from that modality alone (Table 5).

    Args:
        text_encoder, image_encoder / feature shapes: raw or feature mode.
        num_classes: int. Default 8. hidden_dim: int. h = 100.
        pooling: "max" or "average". Default "max".
    """

    paper = "004"
    table = "Tables 4, 5 (Joint fusion)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=8,
        hidden_dim=100,
        pooling="max",
        **kwargs,
    ):
        inputs = {}
        f = joint_fusion_features(
            inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape, project_image=True
        )
        post = ModalityPooling(pooling, name="fusion_pooling")(
            [f["image"], f["text"]], presence=[f["image_present"], f["text_present"]]
        )
        probs = low_rank_classifier(post, num_classes, hidden_dim)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            pooling=pooling,
        )
