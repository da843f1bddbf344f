"""Paper 003's best text-only classifier (Table 8, "Best text-only classifier")."""

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.models.base import MultimodalModel, masked_by_presence, text_branch
from mmsa_keras.models.mvso_gated.stacks import softmax_head
from mmsa_keras.models.registration import register_model


@register_model(
    "mvso_text_bilstm", "Embedding(200) → BiLSTM(300) → softmax", modalities=("text",), text_encoder="bilstm"
)
@mmsa_export("mmsa_keras.models.MVSOTextBiLSTM")
class MVSOTextBiLSTM(MultimodalModel):
    """Embedding(200) → Bidirectional LSTM(300) → Dense(C) softmax.

    Paper 003, section 4.2: "Our best classical classifier model had a single
    bidirectional layer with a hidden state size of 300, then a dense layer
    with a softmax activation" (79.6% validation accuracy on MVSO, 2 classes).
    The text encoder (default `mmsa_keras.encoders.bilstm`) gives the 600-d
    final states that the combined models reuse. A post without text gives
    zero features.

    Args:
        text_encoder / text_feature_shape: raw or feature mode.
        num_classes: int. Default 2.
    """

    paper = "003"
    table = "Table 8 (text-only)"

    def __init__(self, text_encoder=None, text_feature_shape=None, num_classes=2, **kwargs):
        inputs = {}
        text = text_branch(inputs, text_encoder, text_feature_shape)
        x = masked_by_presence(text["pooled"], text["present"], "text_presence")
        probs = softmax_head(x, num_classes)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self._store_config(text_encoder=text_encoder, text_feature_shape=text_feature_shape, num_classes=num_classes)
