"""The image-only ResNet row of paper 002 (Table 4, row "ResNet")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence, projection
from mmsa_keras.models.registration import register_model


@register_model(
    "bert_resnet_image_only", "ResNet image-only row: pooled image → projection → head", modalities=("image",)
)
@mmsa_export("mmsa_keras.models.BertResnetImageOnly")
class BertResnetImageOnly(MultimodalModel):
    """Image alone: pooled image vector → Dropout + Dense(h, relu) → classifier head.

    Paper 002, Table 4, row "ResNet". A post without an image gives a zero
    vector to the head (presence flag); captions are never read.

    Args:
        image_encoder, image_feature_shape: raw or feature mode (see `NativeCat`).
        num_classes, hidden_dim, projection_dropout, head_hidden_dim, head_dropout:
            as `NativeCat`.
    """

    paper = "002"
    table = "Table 4 (ResNet)"

    def __init__(
        self,
        image_encoder=None,
        image_feature_shape=None,
        num_classes=3,
        hidden_dim=64,
        projection_dropout=0.1,
        head_hidden_dim=128,
        head_dropout=0.5,
        **kwargs,
    ):
        inputs = {}
        image = image_branch(inputs, image_encoder, image_feature_shape)
        i = projection(image["pooled"], hidden_dim, projection_dropout, "image_projection")
        i = masked_by_presence(i, image["present"], "image_presence")
        probs = ClassifierHead(num_classes, head_hidden_dim, head_dropout, name="head")(i)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            projection_dropout=projection_dropout,
            head_hidden_dim=head_hidden_dim,
            head_dropout=head_dropout,
        )
