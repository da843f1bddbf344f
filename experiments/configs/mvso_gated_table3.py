"""Paper 003, Table 3: embedding classifiers, 3 classes (labels from the text).

The dense stack ends in a linear 50-d projection trained with cosine proximity
towards the label words' GloVe vectors (`--glove FILE`; the orthonormal
stand-in otherwise); the nearest label vector is the prediction. RMSprop, 20
epochs, batch 64. Rows 1 and 2 of the paper have the same architecture string
(0.412, 0.430).
"""

from experiments.configs._mvso import RMSPROP, RMSPROP_NOTE, config, image_row


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("512 (D 0.2) → 50 linear, run 1", [512], [0.2], 0.412, embedding=True),
        image_row("512 (D 0.2) → 50 linear, run 2", [512], [0.2], 0.430, embedding=True),
        image_row("1024 (D 0.5) → 512 (D 0.5) → 50 linear", [1024, 512], [0.5, 0.5], 0.424, embedding=True),
    ]
    return config(
        "Table 3",
        rows,
        3,
        dict(RMSPROP),
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        labels="text",
        per_class=5000,
        departures=[RMSPROP_NOTE],
    )
