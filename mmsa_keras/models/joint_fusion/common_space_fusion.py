"""Paper 004's common space fusion (Tables 4 and 5, row "Common space fusion")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.modality_pooling import ModalityPooling
from mmsa_keras.losses import CommonSpaceLoss, pack_common_space
from mmsa_keras.models.base import PROBABILITIES, MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model("common_space_fusion", "joint fusion + auxiliary common-space ranking loss (eq. 14)", **PSI)
@mmsa_export("mmsa_keras.models.CommonSpaceFusion")
class CommonSpaceFusion(MultimodalModel):
    """Joint fusion trained with the auxiliary common-space ranking task.

    Paper 004, section 4.3, equation 14: the classifier is joint fusion's; an
    auxiliary loss pulls each post's projected image vector towards its own
    text vector and away from the text vectors of g posts of other classes
    (`mmsa_keras.losses.CommonSpaceLoss`). Total loss = λ·CE + aux (λ = 3;
    g = 3 for Reddit, 4 for Flickr).

    Missing modality: as joint fusion for classification; posts lacking either
    modality take no part in the auxiliary loss.

    Outputs a dict: `probabilities` and `common_space` (the packed vectors the
    auxiliary loss reads).

    Args: as `JointFusion`, plus
        num_negatives: int. g. Default 3.
        classification_weight: float. λ. Default 3.0.
    """

    paper = "004"
    table = "Tables 4, 5 (Common space fusion)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=8,
        hidden_dim=100,
        pooling="max",
        num_negatives=3,
        classification_weight=3.0,
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
        packed = pack_common_space(f["image"], f["text"], f["image_present"], f["text_present"])
        super().__init__(inputs=inputs, outputs={PROBABILITIES: probs, "common_space": packed}, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            pooling=pooling,
            num_negatives=num_negatives,
            classification_weight=classification_weight,
        )

    def training_objective(self):
        cfg = self._mmsa_config
        return {
            "loss": {
                PROBABILITIES: "sparse_categorical_crossentropy",
                "common_space": CommonSpaceLoss(cfg["num_negatives"]),
            },
            "loss_weights": {PROBABILITIES: cfg["classification_weight"], "common_space": 1.0},
            "metrics": {PROBABILITIES: ["accuracy"]},
        }
