"""NativeCombineModel of paper 002 (Table 4, row "NativeCombineModel")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features, two_head_fusion
from mmsa_keras.models.registration import register_model


@register_model("native_combine", "NativeCombine: one head per modality, probabilities added and renormalised")
@mmsa_export("mmsa_keras.models.NativeCombine")
class NativeCombine(MultimodalModel):
    """One classifier head per modality; their probabilities added and re-normalised.

    Paper 002, section 3.4: "The model processes text and image input
    separately, extracts their respective features, and makes classification
    predictions independently. Then, the prediction probability of text and
    image is fused to get the final prediction result." Trained end to end on
    the fused probabilities.

    Outputs a dict: `probabilities` (fused), `text_probabilities`,
    `image_probabilities` (the two heads).

    Missing modality: only the present heads are summed (`ProbabilityFusion`
    "renormalised_sum"), so a post without an image is classified by its text
    head alone.

    Each head also gets its own cross-entropy, weighted `head_loss_weight`
    (our addition, declared in the row's departures; 0 trains on the fused
    output alone, as the paper). Trained only through the average, a head whose
    modality carries little signal (random-weight ResNet-50 features) saturates
    on the majority class: its vote of 0.5 can then never be outvoted, and the
    model predicts one class for every post. Its own loss keeps it calibrated.

    Args: as `NativeCat`, plus
        head_loss_weight: float. Weight of each head's own loss. Default 0.2.
    """

    paper = "002"
    table = "Table 4 (NativeCombineModel)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=3,
        hidden_dim=64,
        projection_dropout=0.1,
        head_hidden_dim=128,
        head_dropout=0.5,
        head_loss_weight=0.2,
        **kwargs,
    ):
        inputs = {}
        f = bert_resnet_features(
            inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape, hidden_dim, projection_dropout
        )
        outputs = two_head_fusion(
            f["text_pooled"], f["image_pooled"], f, num_classes, head_hidden_dim, head_dropout, "renormalised_sum"
        )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            projection_dropout=projection_dropout,
            head_hidden_dim=head_hidden_dim,
            head_dropout=head_dropout,
            head_loss_weight=head_loss_weight,
        )
        self.head_loss_weight = head_loss_weight

    def training_objective(self) -> dict:
        objective = super().training_objective()
        if self.head_loss_weight:
            w = float(self.head_loss_weight)
            for key in ("text_probabilities", "image_probabilities"):
                objective["loss"][key] = "sparse_categorical_crossentropy"
            objective["loss_weights"] = {"probabilities": 1.0, "text_probabilities": w, "image_probabilities": w}
        return objective
