"""OTEModel (output transformer encoder) of paper 002 (Table 4, the paper's best row)."""

import keras
import keras_hub

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features
from mmsa_keras.models.registration import register_model


@register_model("ote", "OTE: [text; image] pooled token → transformer encoder → head")
@mmsa_export("mmsa_keras.models.OTE")
class OTE(MultimodalModel):
    """The two pooled vectors as two tokens → Transformer encoder layer → head.

    Paper 002, section 3.3 (OutputTransformerEncoderModel): "extracts the
    features of text and image, splices and fuses these features in the
    feature space to form a joint feature representation". Our reading: the
    projected text and image vectors are spliced as a sequence of two h-wide
    tokens (text, image), so that the encoder's self-attention relates the two
    modalities (over a single spliced 2h token, as an earlier version had it,
    attention weights are identically 1 and the layer is a feed-forward block);
    one Transformer encoder layer (8 heads, dropout 0.4); the two encoded
    tokens are concatenated (2h) into the classifier head.

    Missing modality: the absent token is masked out of the attention and
    zeroed (presence flags).

    Args: as `HSTEC` (no `image_channels`).
    """

    paper = "002"
    table = "Table 4 (OTEModel)"

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
        intermediate_dim=None,
        **kwargs,
    ):
        inputs = {}
        f = bert_resnet_features(
            inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape, hidden_dim, projection_dropout
        )
        text_token = keras.layers.Reshape((1, hidden_dim), name="text_token")(f["text_pooled"])
        image_token = keras.layers.Reshape((1, hidden_dim), name="image_token")(f["image_pooled"])
        tokens = keras.layers.Concatenate(axis=1, name="tokens")([text_token, image_token])  # [B, 2, h]
        presence = keras.ops.stack([f["text_present"], f["image_present"]], axis=1)
        # a post with neither modality attends over both (zero) tokens rather than over nothing
        mask = keras.ops.cast(
            keras.ops.logical_or(presence > 0, keras.ops.all(presence <= 0, axis=1, keepdims=True)), "int32"
        )
        encoded = keras_hub.layers.TransformerEncoder(
            intermediate_dim or 4 * hidden_dim, num_heads, dropout=attention_dropout, name="encoder"
        )(tokens, padding_mask=mask)
        encoded = encoded * keras.ops.expand_dims(keras.ops.cast(presence, encoded.dtype), -1)
        encoded = keras.layers.Flatten(name="encoded_tokens")(encoded)
        probs = ClassifierHead(num_classes, head_hidden_dim, head_dropout, name="head")(encoded)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
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
            intermediate_dim=intermediate_dim,
        )
