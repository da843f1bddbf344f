"""Paper 003, section 5: the best models on the test set.

Best classical combined model (Txt GL1, Img GL2 compressed, dropout 0.3):
80.9% test accuracy; best embedding model (cosine, 10 epochs, started from the
classical model, SGD 0.01 as in Table 9): 78.6%.
"""

from experiments.configs._mvso import config
from experiments.configs.mvso_gated_table8 import COMBINED, COMBINED_DEPARTURES
from experiments.configs.mvso_gated_table9 import BEST


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            "name": "Best classical (gated)",
            "model": "mvso_gated",
            "overrides": dict(BEST),
            "paper": {"accuracy": 0.809},
            "training": dict(COMBINED),
            "smoke_overrides": {"compressed_dim": 6},
            "departures": list(COMBINED_DEPARTURES),
        },
        {
            "name": "Best embedding (cosine, 10 epochs)",
            "model": "mvso_gated_embedding",
            "init_from": "Best classical (gated)",
            "overrides": {**BEST, "loss": "cosine"},
            "training": {"epochs": 10, "optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.0},
            "paper": {"accuracy": 0.786},
            "smoke_overrides": {"compressed_dim": 6},
        },
    ]
    return config(
        "test set (section 5)",
        rows,
        2,
        {"image_source_size": 32},
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        split="test",
        image="resnet50",
        image_weights="imagenet",
        per_class=38000,
    )
