"""Paper 004's late fusion (Table 4, row "Late fusion")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.probability_fusion import ProbabilityFusion
from mmsa_keras.models.base import PROBABILITIES, MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.registry import register_model


@register_model("late_fusion", "argmax of the product of the unimodal classifiers' probabilities", **PSI)
@mmsa_export("mmsa_keras.models.LateFusion")
class LateFusion(MultimodalModel):
    """Two independent unimodal classifiers; the predicted class has the highest product.

    Paper 004, section 3: "Late fusion requires the construction of two
    independent classifiers ... The predicted class is then the highest
    product between the two classifiers". The text classifier is
    `JointFusionTextOnly`'s (ψ → Linear(h) → Linear(C)), the image classifier
    `JointFusionImageOnly`'s (γ → Linear(C)); each is trained with its own
    cross-entropy (no loss on the fused output, so they stay independent).
    `probabilities` is the re-normalised product, whose argmax is the paper's
    prediction; with one modality absent it is the other classifier's output.

    Outputs a dict: `probabilities`, `text_probabilities`, `image_probabilities`.
    """

    paper = "004"
    table = "Table 4 (Late fusion)"

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
        p_text = low_rank_classifier(f["text"], num_classes, hidden_dim, name="text_classifier")
        p_image = low_rank_classifier(f["image"], num_classes, None, name="image_classifier")
        fused = ProbabilityFusion("product", name="product")(
            [p_text, p_image], presence=[f["text_present"], f["image_present"]]
        )
        outputs = {PROBABILITIES: fused, "text_probabilities": p_text, "image_probabilities": p_image}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
        )

    def training_objective(self):
        return {
            "loss": {
                "text_probabilities": "sparse_categorical_crossentropy",
                "image_probabilities": "sparse_categorical_crossentropy",
            },
            "metrics": {PROBABILITIES: ["accuracy"]},
        }
