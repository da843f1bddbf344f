"""Paper 003, Table 6: classical classifiers, 2 classes: raw 32x32 pixels and AlexNet features.

Pixel rows: 32x32x3 → Conv 96 → MaxPool → BatchNorm → Conv 256 → MaxPool →
BatchNorm → 1024 → 512 → 24 → softmax (0.545; with dropout 0.5: 0.506). Feature
rows: 4096 → 2048 → 1024 → 512 → 24 → softmax (0.595; with dropout 0.5: 0.598).
SGD lr 0.001 momentum 0.9, 40 epochs, batch 64.
"""

from experiments.configs._mvso import config, image_row


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("pixels, CNN → 1024/512/24", [1024, 512, 24], [], 0.545, relu=False, pixels=True),
        image_row("pixels, CNN → 1024/512/24, dropout 0.5", [1024, 512, 24], [0.5] * 3, 0.506, relu=False, pixels=True),
        image_row("4096 → 2048/1024/512/24", [2048, 1024, 512, 24], [], 0.595, relu=False),
        image_row("4096 → 2048/1024/512/24, dropout 0.5", [2048, 1024, 512, 24], [0.5] * 4, 0.598, relu=False),
    ]
    for row in rows[:2]:
        row["departures"] = ["the pixel CNN's kernel sizes (3x3) and padding are not given"]
    return config("Table 6", rows, 2, {"epochs": 40}, smoke, __doc__.split("\n\n", 1)[1].strip(), per_class=38000)
