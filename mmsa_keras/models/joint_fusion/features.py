"""The shared parts of paper 004's models (Duong, Lebret, Aberer; docs/ARCHITECTURE.md §3).

ψ(s): the text encoder's pooled vector (paper: Embedding(200) → dropout 0.25 →
max over tokens, `mmsa_keras.encoders.bag_of_embeddings(pooling="max")`).
γ(i): the image encoder's pooled vector (paper: InceptionV3, 2048-d), projected
by a linear layer into the text space when the model pools the two.
"""

from __future__ import annotations

import keras

from mmsa_keras.models.base import image_branch, masked_by_presence, text_branch

#: paper 004's default text encoder ψ: 200-d word embeddings, dropout 0.25 after the lookup, max over tokens
PSI = {
    "text_encoder": "bag_of_embeddings",
    "text_encoder_config": {"hidden_dim": 200, "pooling": "max", "dropout": 0.25},
}


def joint_fusion_features(
    inputs: dict,
    text_encoder=None,
    image_encoder=None,
    text_feature_shape=None,
    image_feature_shape=None,
    use_text=True,
    use_image=True,
    project_image=False,
) -> dict:
    """Return `text` ψ(s), `image` γ(i) (projected to ψ's width when
    `project_image`), and the presence flags, each vector zeroed when absent."""
    out = {}
    if use_text:
        text = text_branch(inputs, text_encoder, text_feature_shape)
        out["text"] = masked_by_presence(text["pooled"], text["present"], "text_presence")
        out["text_present"] = text["present"]
    if use_image:
        image = image_branch(inputs, image_encoder, image_feature_shape)
        vec = image["pooled"]
        if project_image:
            vec = keras.layers.Dense(out["text"].shape[-1], name="image_to_text_space")(vec)
        out["image"] = masked_by_presence(vec, image["present"], "image_presence")
        out["image_present"] = image["present"]
    return out


def low_rank_classifier(x, num_classes: int, hidden_dim: int | None, name: str = "classifier"):
    """Linear(h) → Linear(C) → softmax (paper 004: a linear layer to a hidden
    space of size h = 100 right before the last layer)."""
    if hidden_dim:
        x = keras.layers.Dense(hidden_dim, name=f"{name}_hidden")(x)
    logits = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name=f"{name}_softmax")(logits)
