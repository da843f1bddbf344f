"""Paper 001 (Alfano, multimodal sentiment analysis on MVSA): the reported results.

72% accuracy; F1 0.81 positive, 0.68 neutral, 0.67 negative (reported here in
percent). The text and image models are fine-tuned alone first, then frozen
inside the multi-head-attention fusion model (its rows `uses` them).
"""

from experiments.configs._common import finish

METRICS = ["accuracy", "f1", "f1_positive", "f1_neutral", "f1_negative"]


def get_config(smoke: bool = False) -> dict:
    small = {"text_projection_dim": 8, "image_projection_dim": 8, "num_heads": 1, "hidden_dim": 8}
    config = {
        "title": "Multimodal sentiment analysis on MVSA (paper 001): results",
        "paper": "001",
        "dataset": {
            "name": "MVSA (enriched MVSA Twitter set)",
            "format": "mvsa",
            "options": {"protocol": "A", "split": "random"},
        },
        "split": "test",
        "unit": "percent",
        "metrics": METRICS,
        "class_names": ["negative", "neutral", "positive"],
        "paper_encoders": "a Hugging Face transformer (mean of last hidden states, 128 tokens) and MobileNetV2",
        "encoders": {"text": "minilm_l6", "image": "mobilenet_v2", "image_weights": "imagenet"},
        "embedded_encoders": {"text": "small_transformer", "image": "small_cnn"},
        "training": {
            "epochs": 10,
            "batch_size": 16,
            "learning_rate": 1e-3,
            "patience": 3,
            "sequence_length": 128,
            "image_size": 224,
            "augment": False,
        },
        "finetune": {"unfreeze": "all", "learning_rate": 2e-5, "optimizer": "adamw", "weight_decay": 0.01},
        "rows": [
            {"name": "Text model", "model": "mvsa_mha_text", "paper": {}},
            {"name": "Image model", "model": "mvsa_mha_image", "paper": {}},
            {
                "name": "MHA fusion",
                "model": "mvsa_mha_fusion",
                "uses": {"text_model": "Text model", "image_model": "Image model"},
                "paper": {"accuracy": 72.0, "f1_positive": 81.0, "f1_neutral": 68.0, "f1_negative": 67.0},
                "smoke_overrides": small,
            },
        ],
        "notes": "The paper reports only the fusion model's accuracy and per-class F1; weighted F1 is its "
        "selection metric. The unimodal rows are the two stages the fusion model reuses.",
    }
    return finish(config, smoke)
