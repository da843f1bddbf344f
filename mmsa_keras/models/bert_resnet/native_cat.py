"""NativeCatModel of paper 002 (Table 4, row "NativeCatModel")."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet.features import bert_resnet_features
from mmsa_keras.models.registration import register_model


@register_model("native_cat", "NativeCat: concatenated pooled text and image vectors → head")
@mmsa_export("mmsa_keras.models.NativeCat")
class NativeCat(MultimodalModel):
    """Concatenation of the pooled text and image vectors → classifier head.

    Paper 002 ("Multimodal sentiment analysis based on BERT and ResNet"),
    section 3.4 and Table 4: each modality's pooled vector (BERT pooled output,
    ResNet-50 average-pooled 2048-d) goes through Dropout + Dense(h, relu),
    h = 64; the two are concatenated and classified by Dropout(0.5) →
    Dense(128, relu) → Dropout(0.5) → Dense(num_classes) → softmax.

    Missing modality: the absent modality's projected vector is set to zero
    through its presence flag, so the head sees only the present one.

    Args:
        text_encoder: keras.Model or None. Raw-mode text encoder (keras-hub
            backbone contract). Default None.
        image_encoder: keras.Model or None. Raw-mode image encoder. Default None.
        text_feature_shape: tuple or None. Feature-mode shape of the text features.
        image_feature_shape: tuple or None. Feature-mode shape of the image features.
        num_classes: int. Default 3.
        hidden_dim: int. The "middle hidden size" h. Default 64.
        projection_dropout: float. Dropout before each projection (BERT's 0.1).
        head_hidden_dim: int. Default 128.
        head_dropout: float. Default 0.5.

    Example:
    >>> model = mmsa_keras.models.NativeCat(
    ...     text_encoder=mmsa_keras.encoders.small_transformer(1000, 32),
    ...     image_encoder=mmsa_keras.encoders.small_cnn(64))
    """

    paper = "002"
    table = "Table 4 (NativeCatModel)"

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
        **kwargs,
    ):
        # === Functional model ===
        inputs = {}
        f = bert_resnet_features(
            inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape, hidden_dim, projection_dropout
        )
        fused = keras.layers.Concatenate(name="concat")([f["text_pooled"], f["image_pooled"]])
        probs = ClassifierHead(num_classes, head_hidden_dim, head_dropout, name="head")(fused)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        # === Config ===
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
        )
