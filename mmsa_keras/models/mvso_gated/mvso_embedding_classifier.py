"""Paper 003's image-only "embedding" classifiers (Tables 3, 4, 7)."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.label_vectors import default_label_vectors
from mmsa_keras.losses import LabelEmbeddingLoss
from mmsa_keras.models.base import PROBABILITIES, MultimodalModel, image_branch, masked_by_presence
from mmsa_keras.models.mvso_gated.stacks import dense_stack, embedding_head
from mmsa_keras.models.registration import register_model


@register_model(
    "mvso_embedding_classifier",
    "image features → dense stack → 50-d label embedding, nearest label by cosine",
    modalities=("image",),
)
@mmsa_export("mmsa_keras.models.MVSOEmbeddingClassifier")
class MVSOEmbeddingClassifier(MultimodalModel):
    """Image features → dense stack → linear 50-d projection; nearest label vector wins.

    Paper 003, section 4.1.1 "Embedding Classifier network": the network
    "outputs a 50-dimensional projection vector associated with that particular
    label"; trained with cosine proximity (or mean squared error, Table 7; or
    hinge) against the label word's GloVe vector; "at validation/testing time,
    the label assigned is the one whose embedding is closest" (cosine).

    Outputs a dict: `probabilities` holds the `[B, C]` cosine similarities to
    the label vectors (argmax = nearest label; they are scores, not a
    distribution) and `embedding` the 50-d projection the loss is applied to.

    Args:
        image_encoder / image_feature_shape, num_classes, hidden_units, dropouts,
        input_activation: as `MVSOImageClassifier`.
        label_vectors: `[C, 50]` array, or None for
            `mmsa_keras.label_vectors.default_label_vectors(C)` (orthonormal,
            not GloVe; `load_glove_label_vectors` reads real ones).
        loss: "cosine", "mse" or "hinge". Default "cosine".
    """

    paper = "003"
    table = "Tables 3, 4, 7"

    def __init__(
        self,
        image_encoder=None,
        image_feature_shape=None,
        num_classes=3,
        hidden_units=(512,),
        dropouts=(),
        input_activation="relu",
        label_vectors=None,
        loss="cosine",
        **kwargs,
    ):
        if label_vectors is None:
            label_vectors = default_label_vectors(num_classes).tolist()
        inputs = {}
        image = image_branch(inputs, image_encoder, image_feature_shape)
        x = masked_by_presence(image["pooled"], image["present"], "image_presence")
        x = dense_stack(x, hidden_units, dropouts, input_activation)
        embedding, scores = embedding_head(x, label_vectors)
        super().__init__(inputs=inputs, outputs={PROBABILITIES: scores, "embedding": embedding}, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_units=tuple(hidden_units),
            dropouts=tuple(dropouts),
            input_activation=input_activation,
            label_vectors=[list(map(float, v)) for v in label_vectors],
            loss=loss,
        )

    def training_objective(self):
        cfg = self._mmsa_config
        return {
            "loss": {"embedding": LabelEmbeddingLoss(cfg["label_vectors"], cfg["loss"])},
            "metrics": {PROBABILITIES: ["accuracy"]},
        }
