"""Paper 003, Table 5: classical image classifiers, 3 classes, ANP-score labels.

Labels from the ANP sentiment score (> 0.034 positive, < -0.034 negative);
about 38K posts per class; SGD lr 0.001 momentum 0.9, 40 epochs, batch 64.
"""

from experiments.configs._mvso import config, image_row

HIDDEN = [2048, 1024, 512, 24]


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("2048/1024/512/24, no dropout", HIDDEN, [], 0.420, relu=False),
        image_row("2048/1024/512/24, dropout 0.5", HIDDEN, [0.5] * 4, 0.402, relu=False),
        image_row("2048/1024/512 dropout 0.2, 24", HIDDEN, [0.2, 0.2, 0.2, 0.0], 0.426, relu=False),
    ]
    return config("Table 5", rows, 3, {"epochs": 40}, smoke, __doc__.split("\n\n", 1)[1].strip(), per_class=38000)
