"""Shared parts of paper 003's table configs (MVSO / Flickr VSO)."""

from experiments.configs._common import finish

TITLE = "Image and text sentiment on MVSO/Flickr (paper 003)"
SGD = {"optimizer": "sgd", "learning_rate": 1e-3, "momentum": 0.9, "batch_size": 64}
RMSPROP_NOTE = (
    "The paper trains the embedding classifiers with RMSprop; this runner uses Adam (the same "
    "adaptive family) at the same learning rate."
)


def image_row(name, hidden, dropouts, paper, relu=True, embedding=False, loss="cosine", epochs=None, pixels=False):
    row = {
        "name": name,
        "model": "mvso_pixel_cnn_classifier"
        if pixels
        else ("mvso_embedding_classifier" if embedding else "mvso_image_classifier"),
        "overrides": {
            "hidden_units": list(hidden),
            "dropouts": list(dropouts),
            "input_activation": "relu" if relu else None,
        },
        "paper": {"accuracy": paper},
        "smoke_overrides": {"hidden_units": [8] * len(hidden)},
    }
    if embedding:
        row["overrides"]["loss"] = loss
    if pixels:
        row["image_encoder"] = "mvso_pixel_cnn"
    if epochs:
        row["training"] = {"epochs": epochs}
    return row


def config(
    table: str,
    rows,
    num_classes: int,
    training: dict,
    smoke: bool,
    notes: str = "",
    split="validation",
    image="alexnet",
    image_weights=None,
    extra_encoders=None,
):
    keep = ["negative", "positive"] if num_classes == 2 else None
    cfg = {
        "title": f"{TITLE}, {table}",
        "paper": "003",
        "dataset": {
            "name": f"MVSO English ({num_classes} classes, ANP-score labels)",
            "format": "vso",
            "options": {"num_classes": num_classes},
            "keep_classes": keep,
        },
        "split": split,
        "unit": "fraction",
        "metrics": ["accuracy"],
        "class_names": keep or ["negative", "neutral", "positive"],
        "paper_encoders": "AlexNet fc7 (4096-d) image features"
        if image == "alexnet"
        else "ResNet-50 pooled features (2048-d) and a BiLSTM text model",
        "encoders": {"text": "bilstm", "image": image, "image_weights": image_weights, **(extra_encoders or {})},
        "embedded_encoders": {"text": "bilstm", "image": "small_cnn"},
        "training": {
            **SGD,
            "epochs": 20,
            "patience": 5,
            "augment": False,
            "sequence_length": 101,
            "image_size": 227 if image == "alexnet" else 224,
            **training,
        },
        "rows": rows,
        "notes": notes,
    }
    return finish(cfg, smoke)
