"""Paper 003, section 5: the best models on the test set.

Best classical combined model (Txt GL1, Img GL2 compressed, dropout 0.3):
80.9% test accuracy; best embedding model (cosine, 10 epochs): 78.6%.
"""

from experiments.configs._mvso import config


def get_config(smoke: bool = False) -> dict:
    best = {"text_gate": "GL1", "image_gate": "GL2", "image_shape": "compressed", "dropout": 0.3}
    rows = [
        {
            "name": "Best classical (gated)",
            "model": "mvso_gated",
            "overrides": dict(best),
            "paper": {"accuracy": 0.809},
            "smoke_overrides": {"compressed_dim": 6},
        },
        {
            "name": "Best embedding (cosine, 10 epochs)",
            "model": "mvso_gated_embedding",
            "overrides": {**best, "loss": "cosine"},
            "training": {"epochs": 10},
            "paper": {"accuracy": 0.786},
            "smoke_overrides": {"compressed_dim": 6},
        },
    ]
    return config(
        "test set (section 5)",
        rows,
        2,
        {"optimizer": "adam", "epochs": 10},
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        split="test",
        image="resnet50",
        image_weights="imagenet",
    )
