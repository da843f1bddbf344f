"""OTEModel (output transformer encoder) of paper 002 (Table 4, the paper's best row)."""

import keras
import keras_hub

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.registry import register_model
from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features


@register_model("ote", "OTE: [text; image] pooled token → transformer encoder → head")
@mmsa_export("mmsa_keras.models.OTE")
class OTE(MultimodalModel):
    """The two pooled vectors as one 2h token → Transformer encoder layer → head.

    Paper 002, section 3.3 (OutputTransformerEncoderModel): "extracts the
    features of text and image, splices and fuses these features in the
    feature space to form a joint feature representation", here [text pooled;
    image pooled] as a single 2h-wide token through one Transformer encoder
    layer (8 heads, dropout 0.4), then the classifier head.

    Missing modality: the absent half of the token is zero (presence flags).

    Args: as `HSTEC` (no `image_channels`).
    """

    paper = "002"
    table = "Table 4 (OTEModel)"

    def __init__(self, text_encoder=None, image_encoder=None, text_feature_shape=None,
                 image_feature_shape=None, num_classes=3, hidden_dim=64, projection_dropout=0.1,
                 head_hidden_dim=128, head_dropout=0.5, num_heads=8, attention_dropout=0.4,
                 intermediate_dim=None, **kwargs):
        inputs = {}
        f = bert_resnet_features(inputs, text_encoder, image_encoder, text_feature_shape,
                                 image_feature_shape, hidden_dim, projection_dropout)
        token = keras.layers.Concatenate(name="joint_token")([f["text_pooled"], f["image_pooled"]])
        token = keras.layers.Reshape((1, 2 * hidden_dim), name="as_sequence")(token)
        encoded = keras_hub.layers.TransformerEncoder(
            intermediate_dim or 4 * hidden_dim, num_heads, dropout=attention_dropout, name="encoder")(token)
        encoded = keras.layers.Flatten(name="squeeze")(encoded)
        probs = ClassifierHead(num_classes, head_hidden_dim, head_dropout, name="head")(encoded)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(text_encoder=text_encoder, image_encoder=image_encoder,
                           text_feature_shape=text_feature_shape, image_feature_shape=image_feature_shape,
                           num_classes=num_classes, hidden_dim=hidden_dim,
                           projection_dropout=projection_dropout, head_hidden_dim=head_hidden_dim,
                           head_dropout=head_dropout, num_heads=num_heads,
                           attention_dropout=attention_dropout, intermediate_dim=intermediate_dim)
