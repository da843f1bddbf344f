"""HSTECModel (hidden-state transformer-encoder combine) of paper 002 (Table 4)."""

import keras
import keras_hub

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.masked_pooling import MaskedPooling
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features, two_head_fusion
from mmsa_keras.models.registration import register_model


@register_model("hstec", "HSTEC: transformer encoder over text states + image tokens, two heads")
@mmsa_export("mmsa_keras.models.HSTEC")
class HSTEC(MultimodalModel):
    """Joint transformer encoder over text states and image tokens; two heads.

    Paper 002, section 3.2 (HiddenStateTransformerEncoderCombineModel): the
    text states and the image channel sequence are concatenated along the
    sequence axis and passed through one Transformer encoder layer (8 heads,
    dropout 0.4); its output is mean-pooled; the text head gets [text pooled;
    encoder output] and the image head [image pooled; encoder output]; the two
    head outputs are summed and soft-maxed: by default their logits
    (`fusion="logit_sum"`, our reading; `"softmax_sum"` softmaxes the summed
    probabilities literally, which caps the output at 0.787 and is declared in
    the row's departures either way).

    Missing modality: the absent side's tokens are masked out of attention and
    of the mean, and only the present heads enter the sum.

    Outputs a dict: `probabilities`, `text_probabilities`, `image_probabilities`.

    Args: as `CMAC`, plus
        intermediate_dim: int or None. Feed-forward width (default 4h).
    """

    paper = "002"
    table = "Table 4 (HSTECModel)"
    uses_sequences = True

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
        num_heads=8,
        attention_dropout=0.4,
        image_channels=64,
        intermediate_dim=None,
        fusion="logit_sum",
        **kwargs,
    ):
        inputs = {}
        f = bert_resnet_features(
            inputs,
            text_encoder,
            image_encoder,
            text_feature_shape,
            image_feature_shape,
            hidden_dim,
            projection_dropout,
            image_channels,
            sequences=True,
        )
        sequence = keras.layers.Concatenate(axis=1, name="joint_sequence")([f["text_sequence"], f["image_sequence"]])
        text_mask = keras.ops.cast(f["text_mask"], "int32") * keras.ops.cast(
            keras.ops.expand_dims(f["text_present"], -1), "int32"
        )
        image_mask = keras.ops.cast(keras.ops.ones_like(f["image_sequence"][..., 0]), "int32") * keras.ops.cast(
            keras.ops.expand_dims(f["image_present"], -1), "int32"
        )
        mask = keras.layers.Concatenate(axis=1, name="joint_mask")([text_mask, image_mask])
        encoded = keras_hub.layers.TransformerEncoder(
            intermediate_dim or 4 * hidden_dim, num_heads, dropout=attention_dropout, name="encoder"
        )(sequence, padding_mask=mask)
        pooled = MaskedPooling("mean", name="encoder_mean")(encoded, mask=mask)
        text_in = keras.layers.Concatenate(name="text_head_input")([f["text_pooled"], pooled])
        image_in = keras.layers.Concatenate(name="image_head_input")([f["image_pooled"], pooled])
        outputs = two_head_fusion(text_in, image_in, f, num_classes, head_hidden_dim, head_dropout, fusion)
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
            num_heads=num_heads,
            attention_dropout=attention_dropout,
            image_channels=image_channels,
            intermediate_dim=intermediate_dim,
            fusion=fusion,
        )
