"""Models by name: `register_model`, `create_model(name, **overrides)`, `list_models()`.

Encoders may be given as Keras models or by name: `text_encoder="small_transformer"`
with `text_encoder_config={...}` builds `mmsa_keras.encoders.small_transformer(...)`.

Example:
>>> model = mmsa_keras.registry.create_model(
...     "native_cat", text_encoder="small_transformer",
...     text_encoder_config={"vocabulary_size": 500, "sequence_length": 16},
...     image_encoder="small_cnn", image_encoder_config={"image_size": 32})
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras


@dataclasses.dataclass
class ModelSpec:
    """What the registry knows about a model."""

    name: str
    builder: Callable[..., keras.Model]
    paper: str
    table: str
    description: str
    modalities: tuple[str, ...] = ("text", "image")
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, builder, paper: str, table: str, description: str,
                   modalities=("text", "image"), **defaults) -> ModelSpec:
    """Register `builder` (a model class or function) under `name`."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} is already registered")
    spec = ModelSpec(name, builder, paper, table, description, tuple(modalities), defaults)
    _MODELS[name] = spec
    return spec


def _ensure_registered() -> None:
    if not _MODELS:
        _register_builtin()


def list_models() -> list[ModelSpec]:
    _ensure_registered()
    return [_MODELS[k] for k in sorted(_MODELS, key=lambda n: (_MODELS[n].paper, n))]


def get_spec(name: str) -> ModelSpec:
    _ensure_registered()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; `mmsa models` lists them: {sorted(_MODELS)}")
    return _MODELS[name]


def resolve_encoders(kwargs: dict[str, Any], modalities) -> dict[str, Any]:
    """Build encoders given by name; drop encoder arguments a model does not use."""
    from mmsa_keras.encoders import build_image_encoder, build_text_encoder

    out = dict(kwargs)
    builders = {"text": build_text_encoder, "image": build_image_encoder}
    for modality, build in builders.items():
        key = f"{modality}_encoder"
        config = out.pop(f"{key}_config", None) or {}
        if modality not in modalities:
            out.pop(key, None)
            out.pop(f"{modality}_feature_shape", None)
            continue
        if out.get(f"{modality}_feature_shape") is not None:  # feature mode: no encoder
            out.pop(key, None)
            continue
        if isinstance(out.get(key), str):
            out[key] = build(out[key], **config)
    return out


def create_model(name: str, **overrides) -> keras.Model:
    """Build the registered model `name`, its defaults updated by `overrides`.

    An override named `*_model` whose value is a path to a `.keras` file is
    loaded (e.g. the trained unimodal models of paper 000's WANN pipeline).
    """
    spec = get_spec(name)
    kwargs = resolve_encoders({**spec.defaults, **overrides}, spec.modalities)
    for key, value in list(kwargs.items()):
        if key.endswith("_model") and isinstance(value, str) and value.endswith(".keras"):
            kwargs[key] = keras.saving.load_model(value, compile=False)
    return spec.builder(**kwargs)


def _register_builtin() -> None:
    from mmsa_keras.models import bert_resnet, instagram_wann, joint_fusion, mvsa_mha, mvso_gated

    # paper 000: Instagram, ResNet-50 + twitter-RoBERTa + WANN
    register_model("instagram_image_cnn", instagram_wann.InstagramImageCNN, "000", "Table 3",
                   "ResNet-50 (frozen) + Dense(256) + Dropout(0.5) + softmax", modalities=("image",))
    register_model("instagram_text_classifier", instagram_wann.InstagramTextClassifier, "000", "Table 3",
                   "RoBERTa backbone + new 3-way head", modalities=("text",))
    register_model("wann", instagram_wann.wann, "000", "Tables 3, 4",
                   "keras.Sequential head over the two models' concatenated probabilities", modalities=())
    register_model("instagram_wann", instagram_wann.InstagramWANN, "000", "Tables 3, 4",
                   "image CNN + caption classifier + WANN over their probabilities")
    # paper 001: MVSA, mean-pooled transformer + MobileNetV2 + multi-head attention
    register_model("mvsa_mha_text", mvsa_mha.MVSAMHAText, "001", "Results",
                   "mean of transformer states over the mask → softmax", modalities=("text",))
    register_model("mvsa_mha_image", mvsa_mha.MVSAMHAImage, "001", "Results",
                   "MobileNetV2 average-pooled 1280-d → softmax", modalities=("image",))
    register_model("mvsa_mha_fusion", mvsa_mha.MVSAMHAFusion, "001", "Results",
                   "frozen encoders, projections 128/1280, multi-head attention, FF classifier")
    # paper 002
    register_model("bert_resnet_text_only", bert_resnet.BertResnetTextOnly, "002", "Table 4",
                   "BERT text-only row: pooled text → projection → head", modalities=("text",))
    register_model("bert_resnet_image_only", bert_resnet.BertResnetImageOnly, "002", "Table 4",
                   "ResNet image-only row: pooled image → projection → head", modalities=("image",))
    register_model("native_cat", bert_resnet.NativeCat, "002", "Table 4",
                   "NativeCat: concatenated pooled text and image vectors → head")
    register_model("native_combine", bert_resnet.NativeCombine, "002", "Table 4",
                   "NativeCombine: one head per modality, probabilities added and renormalised")
    register_model("cmac", bert_resnet.CMAC, "002", "Table 4",
                   "CMAC: bidirectional cross-modal attention, two heads, summed probabilities")
    register_model("hstec", bert_resnet.HSTEC, "002", "Table 4",
                   "HSTEC: transformer encoder over text states + image tokens, two heads")
    register_model("ote", bert_resnet.OTE, "002", "Table 4",
                   "OTE: [text; image] pooled token → transformer encoder → head")

    # paper 004: joint fusion (text encoder default: max-aggregated word embeddings)
    psi = {"text_encoder": "bag_of_embeddings",
           "text_encoder_config": {"hidden_dim": 200, "pooling": "max", "dropout": 0.25}}
    register_model("joint_fusion_text_only", joint_fusion.JointFusionTextOnly, "004", "Tables 4, 5",
                   "text ψ(s) (embeddings, max over tokens) → Linear(h) → softmax", modalities=("text",), **psi)
    register_model("joint_fusion_image_only", joint_fusion.JointFusionImageOnly, "004", "Tables 4, 5",
                   "image γ(i) → linear softmax layer", modalities=("image",))
    register_model("early_fusion", joint_fusion.EarlyFusion, "004", "Table 4",
                   "[γ; ψ] → Linear(h) → softmax", **psi)
    register_model("late_fusion", joint_fusion.LateFusion, "004", "Table 4",
                   "argmax of the product of the unimodal classifiers' probabilities", **psi)
    register_model("joint_fusion", joint_fusion.JointFusion, "004", "Tables 4, 5",
                   "max/average pooling of projected γ and ψ → Linear(h) → softmax", **psi)
    register_model("common_space_fusion", joint_fusion.CommonSpaceFusion, "004", "Tables 4, 5",
                   "joint fusion + auxiliary common-space ranking loss (eq. 14)", **psi)

    # paper 003: MVSO / Flickr, image stacks, label embeddings, BiLSTM, gating
    register_model("mvso_image_classifier", mvso_gated.MVSOImageClassifier, "003", "Tables 1, 2, 5, 6",
                   "image features → dense stack → softmax (one row per config)", modalities=("image",))
    register_model("mvso_pixel_cnn_classifier", mvso_gated.MVSOImageClassifier, "003", "Table 6",
                   "raw 32x32 pixels → Conv96/Conv256 CNN → dense stack → softmax", modalities=("image",),
                   image_encoder="mvso_pixel_cnn", hidden_units=(1024, 512, 24), input_activation=None,
                   num_classes=2)
    register_model("mvso_embedding_classifier", mvso_gated.MVSOEmbeddingClassifier, "003", "Tables 3, 4, 7",
                   "image features → dense stack → 50-d label embedding, nearest label by cosine",
                   modalities=("image",))
    register_model("mvso_text_bilstm", mvso_gated.MVSOTextBiLSTM, "003", "Table 8",
                   "Embedding(200) → BiLSTM(300) → softmax", modalities=("text",), text_encoder="bilstm")
    register_model("mvso_concat_linear", mvso_gated.MVSOConcatLinear, "003", "Table 8",
                   "[image 2048; text 600] → linear softmax", text_encoder="bilstm")
    register_model("mvso_gated", mvso_gated.MVSOGated, "003", "Table 8",
                   "GL1/GL2 gates per modality, image retained or compressed, dropout → softmax",
                   text_encoder="bilstm")
    register_model("mvso_gated_embedding", mvso_gated.MVSOGatedEmbedding, "003", "Table 9",
                   "best gated model projected to the 50-d label space (mse/cosine/hinge)",
                   text_encoder="bilstm")
