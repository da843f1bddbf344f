"""Paper 000, section 6: the unimodal models' validation accuracy.

RoBERTa (twitter-roberta-base-sentiment, fine-tuned): 88.03% validation
accuracy at epoch 24 (Twitter CSV); ResNet-50: 78.69% validation accuracy
after 150 epochs (CrowdFlower, balanced to 1,400 images per class by
augmentation).
"""

from experiments.configs.instagram_wann_table3 import (
    CNN_DEPARTURES,
    CNN_TRAINING,
    TEXT_DEPARTURES,
    TEXT_TRAINING,
    base,
)


def get_config(smoke: bool = False) -> dict:
    rows_ = [
        {
            "name": "RoBERTa (caption model)",
            "model": "instagram_text_classifier",
            "paper": {"accuracy": 88.03},
            "training": dict(TEXT_TRAINING),
            "architecture": {"text_transform": "lemmatise"},
            "departures": list(TEXT_DEPARTURES),
        },
        {
            "name": "ResNet-50 (image model)",
            "model": "instagram_image_cnn",
            "paper": {"accuracy": 78.69},
            "training": dict(CNN_TRAINING),
            "smoke_overrides": {"hidden_dim": 8},
            "departures": list(CNN_DEPARTURES),
        },
    ]
    config = base(
        "Interpreting user sentiment in Instagram posts (paper 000): unimodal models",
        rows_,
        ["accuracy", "f1"],
        smoke,
        "Validation accuracy, as the paper reports it. The image model balances the training classes to "
        "1,400 posts each by augmentation (`balance_to`); the caption model reads lemmatised captions.",
    )
    config["split"] = "validation"
    config["holdout_fraction"] = None
    config["departures"] = [
        "both models trained on one dataset (the one given); the paper trained the caption "
        "model on the Twitter CSV and the image model on CrowdFlower images"
    ]
    return config
