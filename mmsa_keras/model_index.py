"""The registered models, listed without importing TensorFlow (`mmsa models` answers at once).

`tests/mmsa_keras/test_registry_index.py` checks this list against the registry itself
(`mmsa_keras.registry.list_models()`), so it cannot drift from the models' own attributes.
"""

from __future__ import annotations

_IMAGE_ONLY = {
    "instagram_image_cnn",
    "mvsa_mha_image",
    "bert_resnet_image_only",
    "mvso_embedding_classifier",
    "mvso_image_classifier",
    "mvso_pixel_cnn_classifier",
    "joint_fusion_image_only",
}
_TEXT_ONLY = {
    "instagram_text_classifier",
    "mvsa_mha_text",
    "bert_resnet_text_only",
    "mvso_text_bilstm",
    "joint_fusion_text_only",
}

#: (name, paper, table, description), in the order `list_models()` gives
MODELS: tuple[tuple[str, str, str, str], ...] = (
    ("instagram_image_cnn", "000", "Table 3 (CNN)", "ResNet-50 (frozen) + Dense(256) + Dropout(0.5) + softmax"),
    ("instagram_text_classifier", "000", "Table 3 (RNN/RoBERTa)", "RoBERTa backbone + new 3-way head"),
    ("instagram_wann", "000", "Tables 3, 4 (WANN)", "image CNN + caption classifier + WANN over their probabilities"),
    ("wann", "000", "Tables 3, 4 (WANN)", "keras.Sequential head over the two models' concatenated probabilities"),
    (
        "mvsa_mha_fusion",
        "001",
        "Results (fusion)",
        "frozen encoders, projections 128/1280, multi-head attention, FF classifier",
    ),
    ("mvsa_mha_image", "001", "Results (image model)", "MobileNetV2 average-pooled 1280-d → softmax"),
    ("mvsa_mha_text", "001", "Results (text model)", "mean of transformer states over the mask → softmax"),
    ("bert_resnet_image_only", "002", "Table 4 (ResNet)", "ResNet image-only row: pooled image → projection → head"),
    ("bert_resnet_text_only", "002", "Table 4 (Bert)", "BERT text-only row: pooled text → projection → head"),
    (
        "cmac",
        "002",
        "Table 4 (CMACModel)",
        "CMAC: bidirectional cross-modal attention, two heads, summed probabilities",
    ),
    ("hstec", "002", "Table 4 (HSTECModel)", "HSTEC: transformer encoder over text states + image tokens, two heads"),
    ("native_cat", "002", "Table 4 (NativeCatModel)", "NativeCat: concatenated pooled text and image vectors → head"),
    (
        "native_combine",
        "002",
        "Table 4 (NativeCombineModel)",
        "NativeCombine: one head per modality, probabilities added and renormalised",
    ),
    ("ote", "002", "Table 4 (OTEModel)", "OTE: [text; image] pooled token → transformer encoder → head"),
    ("mvso_concat_linear", "003", "Table 8 (concatenation + linear)", "[image 2048; text 600] → linear softmax"),
    (
        "mvso_embedding_classifier",
        "003",
        "Tables 3, 4, 7",
        "image features → dense stack → 50-d label embedding, nearest label by cosine",
    ),
    (
        "mvso_gated",
        "003",
        "Table 8 (gated rows)",
        "GL1/GL2 gates per modality, image retained or compressed, dropout → softmax",
    ),
    ("mvso_gated_embedding", "003", "Table 9", "best gated model projected to the 50-d label space (mse/cosine/hinge)"),
    (
        "mvso_image_classifier",
        "003",
        "Tables 1, 2, 5, 6",
        "image features → dense stack → softmax (one row per config)",
    ),
    (
        "mvso_pixel_cnn_classifier",
        "003",
        "Table 6 (pixel rows)",
        "raw 32x32 pixels → Conv96/Conv256 CNN → dense stack → softmax",
    ),
    ("mvso_text_bilstm", "003", "Table 8 (text-only)", "Embedding(200) → BiLSTM(300) → softmax"),
    (
        "common_space_fusion",
        "004",
        "Tables 4, 5 (Common space fusion)",
        "joint fusion + auxiliary common-space ranking loss (eq. 14)",
    ),
    ("early_fusion", "004", "Table 4 (Early fusion)", "[γ; ψ] → Linear(h) → softmax"),
    (
        "joint_fusion",
        "004",
        "Tables 4, 5 (Joint fusion)",
        "max/average pooling of projected γ and ψ → Linear(h) → softmax",
    ),
    ("joint_fusion_image_only", "004", "Table 4 (Image)", "image γ(i) → linear softmax layer"),
    (
        "joint_fusion_text_only",
        "004",
        "Table 4 (Text)",
        "text ψ(s) (embeddings, max over tokens) → Linear(h) → softmax",
    ),
    ("late_fusion", "004", "Table 4 (Late fusion)", "argmax of the product of the unimodal classifiers' probabilities"),
)

#: the modalities each model reads (a head over other models' outputs reads none), checked like `MODELS`
MODALITIES: dict[str, tuple[str, ...]] = {
    name: ("image",)
    if name in _IMAGE_ONLY
    else ("text",)
    if name in _TEXT_ONLY
    else ()
    if name == "wann"
    else ("text", "image")
    for name, *_ in MODELS
}
