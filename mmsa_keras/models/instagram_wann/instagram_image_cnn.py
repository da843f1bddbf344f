"""Paper 000's image classifier (ResNet-50 + new head)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence
from mmsa_keras.models.registration import register_model


@register_model(
    "instagram_image_cnn", "ResNet-50 (frozen) + Dense(256) + Dropout(0.5) + softmax", modalities=("image",)
)
@mmsa_export("mmsa_keras.models.InstagramImageCNN")
class InstagramImageCNN(MultimodalModel):
    """ResNet-50 backbone, frozen at first, + Dense(256, relu) + Dropout(0.5) + Dense(3) softmax.

    Paper 000 (Vedrines, Shaltout, Cicek), section 3.1: "The weights in the
    model's convolutional layers are initially frozen ... A custom classifier
    is added ... a linear layer of shape (num_features, 256), ReLU activation
    function, dropout with 50% chance of dropping, and three output classes".
    Images 256x256, normalised by the training split's per-channel mean/std
    (the pipeline's "mean_std" normalisation). SGD lr 5e-4, momentum 0.9, batch
    32 (experiment config). A post without an image gives zero features.

    Args:
        image_encoder / image_feature_shape: raw or feature mode.
        freeze_encoder: bool or None. True freezes the backbone (raw mode); None (default) leaves it as it
            was built: pretrained encoders are built frozen unless asked to unfreeze (the run plan's
            `--unfreeze` / `reproduce --finetune`), so the default is the paper's frozen backbone.
        num_classes: int. Default 3. hidden_dim: int. Default 256. dropout: Default 0.5.
    """

    paper = "000"
    table = "Table 3 (CNN)"

    def __init__(
        self,
        image_encoder=None,
        image_feature_shape=None,
        freeze_encoder=None,
        num_classes=3,
        hidden_dim=256,
        dropout=0.5,
        **kwargs,
    ):
        if image_encoder is not None and freeze_encoder:
            image_encoder.trainable = False
        inputs = {}
        image = image_branch(inputs, image_encoder, image_feature_shape)
        x = masked_by_presence(image["pooled"], image["present"], "image_presence")
        x = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        probs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(logits)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            freeze_encoder=freeze_encoder,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
            dropout=dropout,
        )
