"""Paper 003's image-only "classical" classifiers (Tables 1, 2, 5, 6)."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence
from mmsa_keras.models.mvso_gated.stacks import dense_stack, softmax_head
from mmsa_keras.models.registration import register_model


@register_model(
    "mvso_image_classifier", "image features → dense stack → softmax (one row per config)", modalities=("image",)
)
@register_model(
    "mvso_pixel_cnn_classifier",
    "raw 32x32 pixels → Conv96/Conv256 CNN → dense stack → softmax",
    modalities=("image",),
    table="Table 6 (pixel rows)",
    image_encoder="mvso_pixel_cnn",
    hidden_units=(1024, 512, 24),
    input_activation=None,
    num_classes=2,
)
@mmsa_export("mmsa_keras.models.MVSOImageClassifier")
class MVSOImageClassifier(MultimodalModel):
    """Image features → the row's dense stack → Dense(C) softmax.

    Paper 003, sections 4.1.1 and 4.1.2, Tables 1, 2, 5 and 6: feed-forward
    classifiers over 4096-d AlexNet fc7 features (feature mode,
    `image_feature_shape=(4096,)`, or raw mode with the AlexNet encoder), and the
    raw-pixel rows of Table 6 (raw mode with the `mvso_pixel_cnn` encoder on
    32x32x3 images). Each table row is a config: e.g. Table 2's best row is
    `hidden_units=(2048, 1024, 512), dropouts=(0.7, 0.7, 0.5),
    input_activation="relu"`. A post without an image gives zero features.

    Args:
        image_encoder / image_feature_shape: raw or feature mode.
        num_classes: int. 3 or 2. Default 3.
        hidden_units: tuple of int. Default (512,) (Table 1, row 1).
        dropouts: tuple of float, one per hidden layer. Default ().
        input_activation: "relu" or None. Default "relu" ("In = 4096, ReLU").
    """

    paper = "003"
    table = "Tables 1, 2, 5, 6"

    def __init__(
        self,
        image_encoder=None,
        image_feature_shape=None,
        num_classes=3,
        hidden_units=(512,),
        dropouts=(),
        input_activation="relu",
        **kwargs,
    ):
        inputs = {}
        image = image_branch(inputs, image_encoder, image_feature_shape)
        x = masked_by_presence(image["pooled"], image["present"], "image_presence")
        x = dense_stack(x, hidden_units, dropouts, input_activation)
        probs = softmax_head(x, num_classes)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            image_encoder=image_encoder,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_units=tuple(hidden_units),
            dropouts=tuple(dropouts),
            input_activation=input_activation,
        )
