"""Paper 000 (Instagram posts: ResNet-50 + twitter-RoBERTa + WANN), Table 3.

Accuracy and per-class precision/recall/F1 of the CNN, the caption model
("RNN", a RoBERTa) and the WANN on the paper's manually labelled Instagram
test set. The paper trains the CNN on CrowdFlower images, the caption model
on the Twitter sentiment CSV and the WANN on Flickr image+caption pairs;
this runner trains all three rows on one dataset (the one given), the WANN on
the frozen outputs of the two rows before it (paper section 3.3).
"""

from experiments.configs._common import finish

METRICS = ["accuracy"] + [
    f"{k}_{c}" for k in ("precision", "recall", "f1") for c in ("negative", "neutral", "positive")
]
PAPER = {
    "CNN": (40, 47, 33, 43, 23, 35, 63, 31, 34, 51),
    "RNN": (53, 63, 41, 51, 52, 17, 93, 57, 24, 66),
    "WANN": (57, 67, 54, 51, 67, 18, 93, 57, 53, 52),
}
CNN_TRAINING = {
    "optimizer": "sgd",
    "learning_rate": 5e-4,
    "momentum": 0.9,
    "batch_size": 32,
    "epochs": 150,
    "patience": 10,
}
TEXT_TRAINING = {
    "optimizer": "adamw",
    "learning_rate": 5e-4,
    "warmup_steps": 500,
    "weight_decay": 0.01,
    "schedule": "linear",
    "batch_size": 8,
    "epochs": 25,
    "patience": 3,
}
WANN_TRAINING = {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 50, "patience": 5}


def rows():
    def t(training):
        return training

    return [
        {
            "name": "CNN",
            "model": "instagram_image_cnn",
            "paper": dict(zip(METRICS, PAPER["CNN"])),
            "training": t(CNN_TRAINING),
            "smoke_overrides": {"hidden_dim": 8},
        },
        {
            "name": "RNN",
            "model": "instagram_text_classifier",
            "paper": dict(zip(METRICS, PAPER["RNN"])),
            "training": t(TEXT_TRAINING),
        },
        {
            "name": "WANN",
            "model": "instagram_wann",
            "uses": {"image_model": "CNN", "text_model": "RNN"},
            "paper": dict(zip(METRICS, PAPER["WANN"])),
            "training": t(WANN_TRAINING),
        },
    ]


def base(title: str, rows_, metrics, smoke, notes=""):
    config = {
        "title": title,
        "paper": "000",
        "dataset": {
            "name": "the paper's Instagram test set (models trained on CrowdFlower, Twitter, Flickr)",
            "format": "mvsa",
            "options": {"split": "random"},
        },
        "split": "test",
        "unit": "percent",
        "metrics": metrics,
        "class_names": ["negative", "neutral", "positive"],
        "paper_encoders": "ResNet-50 (ImageNet, frozen at first, 256x256) and twitter-roberta-base-sentiment",
        "encoders": {"text": "roberta_base_en", "image": "resnet50", "image_weights": "imagenet"},
        "embedded_encoders": {"text": "small_transformer", "image": "small_cnn"},
        "training": {"image_size": 256, "sequence_length": 128, "augment": True},
        "rows": rows_,
        "notes": notes,
    }
    return finish(config, smoke)


def get_config(smoke: bool = False) -> dict:
    return base(
        "Interpreting user sentiment in Instagram posts (paper 000), Table 3",
        rows(),
        METRICS,
        smoke,
        "Class 0 negative, 1 neutral, 2 positive. Per-row optimisers follow the paper (CNN: SGD 5e-4 "
        "momentum 0.9; caption model: AdamW 5e-4, 500 warm-up steps, weight decay 0.01; WANN: Adam "
        "1e-3, early stopping patience 5); on the embedded set every row uses the embedded settings.",
    )
