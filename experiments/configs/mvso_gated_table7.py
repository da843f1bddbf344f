"""Paper 003, Table 7: embedding classifiers, 2 classes: cosine proximity against mean squared error.

4096 ReLU → 2096 (D 0.5) → 1048 (D 0.5) → [512 (D 0.5) →] 24 (D 0.2) → 50 linear;
RMSprop, 10 epochs, batch 64. Cosine 0.618 / 0.612, MSE 0.490 / 0.490.
"""

from experiments.configs._mvso import RMSPROP, RMSPROP_NOTE, config, image_row

LONG = ([2096, 1048, 512, 24], [0.5, 0.5, 0.5, 0.2])
SHORT = ([2096, 1048, 24], [0.5, 0.5, 0.2])


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("2096/1048/512/24 → 50, cosine", *LONG, 0.618, embedding=True, loss="cosine"),
        image_row("2096/1048/512/24 → 50, MSE", *LONG, 0.490, embedding=True, loss="mse"),
        image_row("2096/1048/24 → 50, cosine", *SHORT, 0.612, embedding=True, loss="cosine"),
        image_row("2096/1048/24 → 50, MSE", *SHORT, 0.490, embedding=True, loss="mse"),
    ]
    return config(
        "Table 7",
        rows,
        2,
        {**RMSPROP, "epochs": 10},
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        per_class=38000,
        departures=[RMSPROP_NOTE],
    )
