"""Paper 003, Table 9: the combined model projected into the label-embedding space.

"We used our best classical model as the starting point, removed the softmax
layer and added a linear projection layer to the 50 dimensional embedding
space. All models were trained using stochastic gradient descent with a
learning rate of 0.01." The best gated model (Txt GL1, Img GL2 compressed to
600, dropout 0.3) is trained first; each row starts from it; losses MSE,
cosine, hinge; 5 and 10 epochs.
"""

from experiments.configs._mvso import config
from experiments.configs.mvso_gated_table8 import COMBINED, COMBINED_DEPARTURES

PAPER = [
    ("mse", 5, 0.784),
    ("cosine", 5, 0.793),
    ("hinge", 5, 0.661),
    ("mse", 10, 0.786),
    ("cosine", 10, 0.798),
    ("hinge", 10, 0.781),
]
BEST = {"text_gate": "GL1", "image_gate": "GL2", "image_shape": "compressed", "dropout": 0.3}
START = "Best classical model (the starting point)"


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            "name": START,
            "model": "mvso_gated",
            "overrides": dict(BEST),
            "paper": {},
            "training": dict(COMBINED),
            "smoke_overrides": {"compressed_dim": 6},
            "departures": list(COMBINED_DEPARTURES),
        }
    ]
    rows += [
        {
            "name": f"loss={loss}, {epochs} epochs",
            "model": "mvso_gated_embedding",
            "init_from": START,
            "overrides": {**BEST, "loss": loss},
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
        {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.0, "image_source_size": 32},
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        image="resnet50",
        image_weights="imagenet",
        per_class=38000,
    )
