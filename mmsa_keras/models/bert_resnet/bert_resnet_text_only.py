"""The text-only BERT row of paper 002 (Table 4, row "Bert")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.models.base import MultimodalModel, masked_by_presence, projection, text_branch
from mmsa_keras.models.registration import register_model


@register_model("bert_resnet_text_only", "BERT text-only row: pooled text → projection → head", modalities=("text",))
@mmsa_export("mmsa_keras.models.BertResnetTextOnly")
class BertResnetTextOnly(MultimodalModel):
    """Text alone: pooled text vector → Dropout + Dense(h, relu) → classifier head.

    Paper 002, Table 4, row "Bert". A post without text gives a zero vector to
    the head (presence flag), i.e. the head's prior; images are never read.

    Args:
        text_encoder, text_feature_shape: raw or feature mode (see `NativeCat`).
        num_classes, hidden_dim, projection_dropout, head_hidden_dim, head_dropout:
            as `NativeCat`.
    """

    paper = "002"
    table = "Table 4 (Bert)"

    def __init__(
        self,
        text_encoder=None,
        text_feature_shape=None,
        num_classes=3,
        hidden_dim=64,
        projection_dropout=0.1,
        head_hidden_dim=128,
        head_dropout=0.5,
        **kwargs,
    ):
        inputs = {}
        text = text_branch(inputs, text_encoder, text_feature_shape)
        t = projection(text["pooled"], hidden_dim, projection_dropout, "text_projection")
        t = masked_by_presence(t, text["present"], "text_presence")
        probs = ClassifierHead(num_classes, head_hidden_dim, head_dropout, name="head")(t)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            text_feature_shape=text_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            projection_dropout=projection_dropout,
            head_hidden_dim=head_hidden_dim,
            head_dropout=head_dropout,
        )
