"""Paper 003, Table 1: classical image classifiers, 3 classes (labels from the text).

4096-d AlexNet fc7 features; SGD lr 0.001 momentum 0.9, 20 epochs, batch 64;
about 5K posts per class; validation accuracy. Rows 2 and 3 of the paper differ
only in a comma of the architecture string ("In = 4096 ReLU" vs
"In = 4096, ReLU") and are kept as given.
"""

from experiments.configs._mvso import config, image_row


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("4096 ReLU → 512 (D 0.2)", [512], [0.2], 0.400),
        image_row("4096 ReLU → 1024 (D 0.5) → 512 (D 0.5)", [1024, 512], [0.5, 0.5], 0.434),
        image_row("4096, ReLU → 1024 (D 0.5) → 512 (D 0.5)", [1024, 512], [0.5, 0.5], 0.422),
        image_row("4096 → 512 (D 0.2)", [512], [0.2], 0.424, relu=False),
    ]
    return config("Table 1", rows, 3, {}, smoke, __doc__.split("\n\n", 1)[1].strip(), labels="text", per_class=5000)
