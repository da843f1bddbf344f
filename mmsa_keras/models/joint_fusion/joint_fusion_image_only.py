"""Paper 004's image-only classifier (Tables 4 and 5, row "Image")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.joint_fusion.features import joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model("joint_fusion_image_only", "image γ(i) → linear softmax layer", modalities=("image",))
@mmsa_export("mmsa_keras.models.JointFusionImageOnly")
class JointFusionImageOnly(MultimodalModel):
    """γ(i) → Linear(C) → softmax: InceptionV3 with its last layer replaced.

    Paper 004, section 5: "we replace the last layer in InceptionNet with a
    linear layer and train this layer with our dataset while keeping other
    layers the same." A post without an image gives γ = 0.

    Args:
        image_encoder / image_feature_shape: raw or feature mode.
        num_classes: int. Default 8.
        hidden_dim: int or None. Optional low-rank hidden layer. Default None.
    """

    paper = "004"
    table = "Table 4 (Image)"

    def __init__(self, image_encoder=None, image_feature_shape=None, num_classes=8, hidden_dim=None, **kwargs):
        inputs = {}
        f = joint_fusion_features(inputs, None, image_encoder, None, image_feature_shape, use_text=False)
        probs = low_rank_classifier(f["image"], num_classes, hidden_dim)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
        )
