"""Paper 001's multi-head-attention fusion model (72% accuracy on MVSA)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.cross_modal_attention import CrossModalAttention
from mmsa_keras.layers.masked_pooling import MaskedPooling
from mmsa_keras.models.base import MultimodalModel, image_branch, masked_by_presence, text_branch
from mmsa_keras.models.registration import register_model


@register_model("mvsa_mha_fusion", "frozen encoders, projections 128/1280, multi-head attention, FF classifier")
@mmsa_export("mmsa_keras.models.MVSAMHAFusion")
class MVSAMHAFusion(MultimodalModel):
    """Frozen unimodal encoders → projections → multi-head attention → feed-forward classifier.

    Paper 001: "The MultimodalModel freezes the layers of the NLP and CV models
    that were fine-tuned separately, and combines text and image embeddings
    using: Linear Projections: text embeddings are projected to 128
    dimensions, while image embeddings are projected to 1280 dimensions;
    Multi-Head Attention ... fuses the textual and visual features; Classifier:
    a feed-forward neural network with ReLU activation and dropout."

    The two projections have different widths, so the attention is read as
    PyTorch's `MultiheadAttention(embed_dim=128, kdim=vdim=1280)`: the text
    token queries the image. Over a single pooled image token the attention
    weights are identically 1 and the "attention" is a linear map, so the
    image side is the MobileNetV2 7x7 map as 49 tokens, each projected to
    `image_projection_dim` (`image_tokens="map"`, the default; `"pooled"`
    keeps the single-token formulation). The attention output is added to
    the text token (residual), so a post without an image keeps its text
    evidence and a post without text is classified from the attended image.
    Weighted F1 is the selection metric (experiment config).

    Args:
        text_encoder, image_encoder / feature shapes: raw or feature mode
            (text: the mean embedding of `MVSAMHAText`, image: 1280-d pooled).
        text_model, image_model: trained `MVSAMHAText` / `MVSAMHAImage`; their
            fine-tuned encoders are used (the paper's second stage).
        freeze_encoders: bool. Freeze the encoders (raw mode). Default True.
        num_classes: int. Default 3.
        text_projection_dim: int. Default 128. image_projection_dim: int. Default 1280.
        num_heads: int. Default 8. hidden_dim: int. Classifier width. Default 128.
        dropout: float. Default 0.3.
        image_tokens: "map" (the spatial map's positions, default) or "pooled" (one token).
    """

    paper = "001"
    table = "Results (fusion)"
    text_feature = "mean_output"
    uses_sequences = True

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        freeze_encoders=True,
        num_classes=3,
        text_projection_dim=128,
        image_projection_dim=1280,
        num_heads=8,
        hidden_dim=128,
        dropout=0.3,
        text_model=None,
        image_model=None,
        image_tokens="map",
        **kwargs,
    ):
        if image_tokens not in ("map", "pooled"):
            raise ValueError(f"image_tokens must be 'map' or 'pooled', got {image_tokens!r}")
        # the paper's two stages: encoders fine-tuned inside the unimodal models, then reused here
        # (in feature mode the stored features already come from those frozen encoders)
        if text_model is not None and text_feature_shape is None:
            text_encoder = text_model.text_encoder
        if image_model is not None and image_feature_shape is None:
            image_encoder = image_model.image_encoder
        for encoder in (text_encoder, image_encoder):
            if encoder is not None and freeze_encoders:
                encoder.trainable = False
        inputs = {}
        text = text_branch(inputs, text_encoder, text_feature_shape)
        image = image_branch(inputs, image_encoder, image_feature_shape)
        if "sequence" in text:
            t = MaskedPooling("mean", name="mean_of_states")(text["sequence"], mask=text["mask"])
        else:
            t = text["pooled"]
        t = keras.layers.Dense(text_projection_dim, name="text_projection")(t)
        t = masked_by_presence(t, text["present"], "text_presence")
        t_token = keras.layers.Reshape((1, text_projection_dim), name="text_token")(t)
        if image_tokens == "map":
            if "sequence" not in image:
                raise ValueError(
                    "image_tokens='map' needs the image's spatial map: an image encoder returning "
                    "feature_map, or image_feature_shape=(positions, channels)"
                )
            i_token = keras.layers.Dense(image_projection_dim, name="image_projection")(image["sequence"])
            i_token = masked_by_presence(i_token, image["present"], "image_presence")
        else:
            i = keras.layers.Dense(image_projection_dim, name="image_projection")(image["pooled"])
            i = masked_by_presence(i, image["present"], "image_presence")
            i_token = keras.layers.Reshape((1, image_projection_dim), name="image_token")(i)
        attended = CrossModalAttention(
            num_heads,
            max(1, text_projection_dim // num_heads),
            dropout=0.0,
            output_dim=text_projection_dim,
            name="attention",
        )(t_token, i_token, key_present=image["present"])
        fused = keras.layers.Add(name="residual")([t_token, attended])
        x = keras.layers.Flatten(name="fused")(fused)
        x = keras.layers.Dense(hidden_dim, activation="relu", name="classifier_hidden")(x)
        x = keras.layers.Dropout(dropout, name="classifier_dropout")(x)
        logits = keras.layers.Dense(num_classes, name="classifier_logits")(x)
        probs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(logits)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            freeze_encoders=freeze_encoders,
            num_classes=num_classes,
            text_projection_dim=text_projection_dim,
            image_projection_dim=image_projection_dim,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            dropout=dropout,
            image_tokens=image_tokens,
        )
