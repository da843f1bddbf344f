"""Paper 003, Table 3: embedding classifiers, 3 classes.

The dense stack ends in a linear 50-d projection trained with cosine proximity
towards the label words' GloVe vectors (the orthonormal stand-in when no GloVe
file is given); the nearest label vector is the prediction. 20 epochs, batch
64. Rows 1 and 2 of the paper have the same architecture string (0.412, 0.430).
"""

from experiments.configs._mvso import RMSPROP_NOTE, config, image_row


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("512 (D 0.2) → 50 linear, run 1", [512], [0.2], 0.412, embedding=True),
        image_row("512 (D 0.2) → 50 linear, run 2", [512], [0.2], 0.430, embedding=True),
        image_row("1024 (D 0.5) → 512 (D 0.5) → 50 linear", [1024, 512], [0.5, 0.5], 0.424, embedding=True),
    ]
    return config(
        "Table 3", rows, 3, {"optimizer": "adam"}, smoke, __doc__.split("\n\n", 1)[1].strip() + " " + RMSPROP_NOTE
    )
