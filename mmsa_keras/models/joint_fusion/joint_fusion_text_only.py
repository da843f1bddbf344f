"""Paper 004's text-only classifier (Tables 4 and 5, row "Text")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model(
    "joint_fusion_text_only",
    "text ψ(s) (embeddings, max over tokens) → Linear(h) → softmax",
    modalities=("text",),
    **PSI,
)
@mmsa_export("mmsa_keras.models.JointFusionTextOnly")
class JointFusionTextOnly(MultimodalModel):
    """ψ(s) → Linear(h) → Linear(C) → softmax.

    Paper 004, section 5 (its text baseline is a shallow fastText-like model:
    word embeddings aggregated by max, then a linear classifier). A post
    without text gives ψ = 0, i.e. the classifier's bias.

    Args:
        text_encoder / text_feature_shape: raw or feature mode.
        num_classes: int. Default 8 (Flickr emotions; 4 for Reddit).
        hidden_dim: int or None. h. Default 100.
    """

    paper = "004"
    table = "Table 4 (Text)"

    def __init__(self, text_encoder=None, text_feature_shape=None, num_classes=8, hidden_dim=100, **kwargs):
        inputs = {}
        f = joint_fusion_features(inputs, text_encoder, None, text_feature_shape, None, use_image=False)
        probs = low_rank_classifier(f["text"], num_classes, hidden_dim)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            text_feature_shape=text_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
        )
