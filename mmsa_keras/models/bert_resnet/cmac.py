"""CMACModel (cross-modality attention combine) of paper 002 (Table 4)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.cross_modal_attention import CrossModalAttention
from mmsa_keras.layers.masked_pooling import MaskedPooling
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features, two_head_fusion
from mmsa_keras.models.registration import register_model


@register_model("cmac", "CMAC: bidirectional cross-modal attention, two heads, summed probabilities")
@mmsa_export("mmsa_keras.models.CMAC")
class CMAC(MultimodalModel):
    """Bidirectional cross-modal attention, one head per modality, summed probabilities.

    Paper 002, section 3.1 (CrossModalityAttentionCombineModel): the text
    states attend to the image channel sequence and the image sequence attends
    to the text states (two multi-head attention layers, 8 heads, dropout 0.4);
    each attention output is mean-pooled; the text head gets [text pooled;
    text→image attention], the image head [image pooled; image→text
    attention]; the two head outputs are summed and soft-maxed: by default their logits
    (`fusion="logit_sum"`, our reading; `"softmax_sum"` softmaxes the summed
    probabilities literally, which caps the output at 0.787 and is declared in
    the row's departures either way).

    Missing modality: attention to an absent modality returns zeros, and only
    the present heads enter the sum.

    Outputs a dict: `probabilities`, `text_probabilities`, `image_probabilities`.

    Args: as `NativeCat`, plus
        num_heads: int. Attention heads. Default 8.
        attention_dropout: float. Default 0.4.
        image_channels: int. Channel tokens of the image sequence. Default 64.
        fusion: "logit_sum" (default) or "softmax_sum" (`ProbabilityFusion` modes).
    """

    paper = "002"
    table = "Table 4 (CMACModel)"
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
        key_dim = max(1, hidden_dim // num_heads)
        text_to_image = CrossModalAttention(num_heads, key_dim, attention_dropout, name="text_to_image")(
            f["text_sequence"], f["image_sequence"], key_present=f["image_present"]
        )
        image_to_text = CrossModalAttention(num_heads, key_dim, attention_dropout, name="image_to_text")(
            f["image_sequence"], f["text_sequence"], key_mask=f["text_mask"], key_present=f["text_present"]
        )
        t_att = MaskedPooling("mean", name="text_attention_mean")(text_to_image, mask=f["text_mask"])
        i_att = keras.layers.GlobalAveragePooling1D(name="image_attention_mean")(image_to_text)
        text_in = keras.layers.Concatenate(name="text_head_input")([f["text_pooled"], t_att])
        image_in = keras.layers.Concatenate(name="image_head_input")([f["image_pooled"], i_att])
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
            fusion=fusion,
        )
