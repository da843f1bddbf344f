"""Paper 000's caption classifier (twitter-RoBERTa + new 3-way head)."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, masked_by_presence, text_branch
from mmsa_keras.models.registration import register_model


@register_model("instagram_text_classifier", "RoBERTa backbone + new 3-way head", modalities=("text",))
@mmsa_export("mmsa_keras.models.InstagramTextClassifier")
class InstagramTextClassifier(MultimodalModel):
    """A RoBERTa backbone's first-token state → the Hugging Face classification head → softmax.

    Paper 000, section 3.2: twitter-roberta-base-sentiment fine-tuned with a
    new 3-way head on lemmatised tweets; Adam lr 5e-4 with 500 warm-up steps,
    weight decay 0.01, batch 8, 25 epochs, early stopping with the best
    weights kept (experiment config). The head is the one Hugging Face's
    `RobertaForSequenceClassification` puts on a new model (which the paper's
    `transformers` code gets): Dropout(0.1) → Dense(hidden, tanh) →
    Dropout(0.1) → Dense(3) on the `<s>` token's state (`head="hf"`, the
    default); `head="linear"` is a single Dropout → Dense(3). Any text encoder
    of the keras-hub contract works. A post without a caption gives zero
    features.

    Args:
        text_encoder / text_feature_shape: raw or feature mode.
        num_classes: int. Default 3. dropout: float. Default 0.1.
        head: "hf" (default) or "linear".
        hidden_dim: int or None. Width of the tanh layer (default: the encoder's width).
    """

    paper = "000"
    table = "Table 3 (RNN/RoBERTa)"

    def __init__(
        self,
        text_encoder=None,
        text_feature_shape=None,
        num_classes=3,
        dropout=0.1,
        head="hf",
        hidden_dim=None,
        **kwargs,
    ):
        if head not in ("hf", "linear"):
            raise ValueError(f"head must be 'hf' or 'linear', got {head!r}")
        inputs = {}
        text = text_branch(inputs, text_encoder, text_feature_shape)
        x = masked_by_presence(text["pooled"], text["present"], "text_presence")
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        if head == "hf":
            x = keras.layers.Dense(hidden_dim or x.shape[-1], activation="tanh", name="dense")(x)
            x = keras.layers.Dropout(dropout, name="dropout_2")(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        probs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(logits)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(
            text_encoder=text_encoder,
            text_feature_shape=text_feature_shape,
            num_classes=num_classes,
            dropout=dropout,
            head=head,
            hidden_dim=hidden_dim,
        )
