"""Paper 003's gated combined models (Table 8, the GL1/GL2 rows)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.gating import GL1, GL2
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence, text_branch
from mmsa_keras.models.mvso_gated.stacks import softmax_head
from mmsa_keras.models.registration import register_model

GATES = {"GL1": GL1, "GL2": GL2}
IMAGE_SHAPES = ("retained", "compressed")


def gated_body(
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
):
    """Gate each modality, concatenate, optional dropout: the body of Table 8's rows."""
    if text_gate not in GATES or image_gate not in GATES:
        raise ValueError(f"gates must be one of {sorted(GATES)}, got {text_gate!r}, {image_gate!r}")
    if image_shape not in IMAGE_SHAPES:
        raise ValueError(f"image_shape must be one of {IMAGE_SHAPES}, got {image_shape!r}")
    text = text_branch(inputs, text_encoder, text_feature_shape)
    image = image_branch(inputs, image_encoder, image_feature_shape)
    t = masked_by_presence(text["pooled"], text["present"], "text_presence")
    i = masked_by_presence(image["pooled"], image["present"], "image_presence")
    if image_shape == "compressed":
        i = keras.layers.Dense(compressed_dim, activation="relu", name="image_compression")(i)
    t = GATES[text_gate](name="text_gate")(t)
    i = GATES[image_gate](name="image_gate")(i)
    x = keras.layers.Concatenate(name="concat")([t, i])
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return x


@register_model(
    "mvso_gated", "GL1/GL2 gates per modality, image retained or compressed, dropout → softmax", text_encoder="bilstm"
)
@mmsa_export("mmsa_keras.models.MVSOGated")
class MVSOGated(MultimodalModel):
    """Per-modality gating layers (GL1/GL2), concatenation, optional dropout, softmax.

    Paper 003, section 4.2 and Table 8: text features (the BiLSTM's 600-d
    penultimate output) and image features (ResNet-50 pooled 2048-d, "retained",
    or compressed by Dense(600, relu)) each pass a gating layer — GL1
    unconstrained, GL2 constrained to [0, 1] — then are concatenated, dropout
    0.3 (or none) is applied, and a dense softmax layer classifies. The best row
    (80.8%): `text_gate="GL1", image_gate="GL2", image_shape="compressed",
    dropout=0.3`. An absent modality contributes zero features.

    Args:
        text_encoder, image_encoder / feature shapes: raw or feature mode.
        num_classes: int. Default 2.
        text_gate, image_gate: "GL1" or "GL2". Default "GL1", "GL2".
        image_shape: "retained" or "compressed". Default "compressed".
        compressed_dim: int. Default 600.
        dropout: float or None. Default 0.3.
    """

    paper = "003"
    table = "Table 8 (gated rows)"

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
        **kwargs,
    ):
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
        probs = softmax_head(x, num_classes)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
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
        )
