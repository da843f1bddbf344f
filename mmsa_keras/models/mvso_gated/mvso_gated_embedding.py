"""Paper 003's combined model projected into the label-embedding space (Table 9)."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.label_vectors import default_label_vectors
from mmsa_keras.losses import LabelEmbeddingLoss
from mmsa_keras.models.base import PROBABILITIES, MultimodalModel
from mmsa_keras.models.mvso_gated.mvso_gated import gated_body
from mmsa_keras.models.mvso_gated.stacks import embedding_head
from mmsa_keras.models.registration import register_model


@register_model(
    "mvso_gated_embedding",
    "best gated model projected to the 50-d label space (mse/cosine/hinge)",
    text_encoder="bilstm",
)
@mmsa_export("mmsa_keras.models.MVSOGatedEmbedding")
class MVSOGatedEmbedding(MultimodalModel):
    """The best gated model's penultimate layer → linear 50-d projection → nearest label.

    Paper 003, section 4.2 and Table 9: "to project the model to embedding
    space, we used the output from the layer below the softmax of our best
    model"; rows vary the loss (mse, cosine, hinge) and the epochs (5, 10);
    cosine for 10 epochs was best (79.8%).

    Outputs a dict: `probabilities` (cosine scores to the label vectors) and
    `embedding`. Args: as `MVSOGated`, plus `label_vectors` and `loss` as
    `MVSOEmbeddingClassifier`.
    """

    paper = "003"
    table = "Table 9"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=2,
        text_gate="GL1",
        image_gate="GL2",
        image_shape="compressed",
        compressed_dim=600,
        dropout=0.3,
        label_vectors=None,
        loss="cosine",
        **kwargs,
    ):
        if label_vectors is None:
            label_vectors = default_label_vectors(num_classes).tolist()
        inputs = {}
        x = gated_body(
            inputs,
            text_encoder,
            image_encoder,
            text_feature_shape,
            image_feature_shape,
            text_gate,
            image_gate,
            image_shape,
            compressed_dim,
            dropout,
        )
        embedding, scores = embedding_head(x, label_vectors)
        super().__init__(inputs=inputs, outputs={PROBABILITIES: scores, "embedding": embedding}, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            text_gate=text_gate,
            image_gate=image_gate,
            image_shape=image_shape,
            compressed_dim=compressed_dim,
            dropout=dropout,
            label_vectors=[list(map(float, v)) for v in label_vectors],
            loss=loss,
        )

    def training_objective(self):
        cfg = self._mmsa_config
        return {
            "loss": {"embedding": LabelEmbeddingLoss(cfg["label_vectors"], cfg["loss"])},
            "metrics": {PROBABILITIES: ["accuracy"]},
        }
