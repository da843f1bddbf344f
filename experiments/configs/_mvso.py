"""Shared parts of paper 003's table configs (MVSO / Flickr VSO).

Procedure (section 4): 70/20/10 split; tables report validation accuracy;
fixed epochs (no early stopping); batch 64; SGD lr 0.001 momentum 0.9 for the
classical classifiers, RMSprop for the embedding classifiers; captions as
title + "." + description, tokenised keeping punctuation, links as
`href`/`rel`, a ~103k-word vocabulary, 101 tokens post-padded; posts with fewer
than 10 words of title, description and tags dropped; about 5K posts per class
for Tables 1-4 (labels from the text) and 38K for Tables 5-7 (ANP labels).
"""

from experiments.configs._common import EMBEDDED_TRAINING, finish

TITLE = "Image and text sentiment on MVSO/Flickr (paper 003)"
SGD = {"optimizer": "sgd", "learning_rate": 1e-3, "momentum": 0.9, "batch_size": 64}
RMSPROP = {"optimizer": "rmsprop", "learning_rate": 1e-3, "batch_size": 64}
RMSPROP_NOTE = "RMSprop's learning rate is not given: Keras's default 0.001"
#: the paper's text procedure (section 4.2), which applies on any data
TEXT = {"sequence_length": 101, "tokenizer_options": {"standardize": "keep_punctuation", "max_tokens": 103000}}
FIXED = {"early_stopping": False}
#: the rows' first op is a ReLU over non-negative fc7/pooled features: standardising them per channel first
#: would turn that ReLU into clipping at the channel mean, where in the paper it changed nothing
UNSTANDARDISED = {"standardize_features": False}
ALEXNET_NOTE = (
    "AlexNet's fc7 features come from random weights unless --image-weights "
    "alexnet=FILE gives converted Caffe ones (`mmsa convert-alexnet`)"
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
        row["architecture"] = {"image_size": 32}  # the paper's raw-pixel input is 32x32x3, on any data
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
    departures=(),
    labels="anp",
    per_class=None,
):
    keep = ["negative", "positive"] if num_classes == 2 else None
    options = {"num_classes": num_classes, "split": "random", "split_fractions": [0.7, 0.2, 0.1]}
    if per_class:
        options["balance_per_class"] = per_class
    cfg = {
        "title": f"{TITLE}, {table}",
        "paper": "003",
        "dataset": {
            "name": f"MVSO English ({num_classes} classes, "
            f"{'labels from the text' if labels == 'text' else 'ANP-score labels'})",
            "format": "vso",
            "options": options,
            "keep_classes": keep,
            "split_description": "70% train / 20% validation / 10% test",
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
            **FIXED,
            **UNSTANDARDISED,
            "augment": False,
            **TEXT,
            "image_size": 227 if image == "alexnet" else 224,
            **training,
        },
        "embedded_training": {**EMBEDDED_TRAINING, **FIXED, **TEXT},
        "finetune_note": "paper 003 trains on fixed features of a pretrained network",
        "expected_labels": "text" if labels == "text" else None,
        "glove_uses": ["label_vectors"],
        "departures": list(departures) + ([ALEXNET_NOTE] if image == "alexnet" else []),
        "rows": rows,
        "notes": notes,
    }
    return finish(cfg, smoke)
