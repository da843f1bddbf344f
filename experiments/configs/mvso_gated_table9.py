"""Paper 003, Table 9: the combined model projected into the label-embedding space.

The best gated model (Txt GL1, Img GL2 compressed to 600, dropout 0.3) with a
linear 50-d projection; losses MSE, cosine, hinge; 5 and 10 epochs. SGD lr 0.01.
"""

from experiments.configs._mvso import config

PAPER = [
    ("mse", 5, 0.784),
    ("cosine", 5, 0.793),
    ("hinge", 5, 0.661),
    ("mse", 10, 0.786),
    ("cosine", 10, 0.798),
    ("hinge", 10, 0.781),
]


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            "name": f"loss={loss}, {epochs} epochs",
            "model": "mvso_gated_embedding",
            "overrides": {"loss": loss},
            "training": {"epochs": epochs},
            "paper": {"accuracy": acc},
            "smoke_overrides": {"compressed_dim": 6},
        }
        for loss, epochs, acc in PAPER
    ]
    return config(
        "Table 9",
        rows,
        2,
        {"learning_rate": 0.01, "momentum": 0.0},
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        image="resnet50",
        image_weights="imagenet",
    )
