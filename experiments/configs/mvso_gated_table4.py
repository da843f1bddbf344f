"""Paper 003, Table 4: embedding classifiers, 2 classes (labels from the text).

4096 ReLU → 2048 (D 0.7) → 1024 (D 0.7) → 512 (D 0.5) → 50-d projection, cosine
proximity, RMSprop; 30 epochs (0.617) and 60 epochs (0.613).
"""

from experiments.configs._mvso import RMSPROP, RMSPROP_NOTE, config, image_row

STACK = ([2048, 1024, 512], [0.7, 0.7, 0.5])


def get_config(smoke: bool = False) -> dict:
    rows = [
        image_row("2048/1024/512 → 50 (30 epochs)", *STACK, 0.617, embedding=True, epochs=30),
        image_row("2048/1024/512 → 50 (60 epochs)", *STACK, 0.613, embedding=True, epochs=60),
    ]
    return config(
        "Table 4",
        rows,
        2,
        dict(RMSPROP),
        smoke,
        __doc__.split("\n\n", 1)[1].strip(),
        labels="text",
        per_class=5000,
        departures=[
            RMSPROP_NOTE,
            'the paper\'s last layer is "50 S-max" (a 50-way softmax read as the label embedding); here it is a '
            "linear 50-d projection compared by cosine with the class vectors (a softmax output cannot point "
            "towards a GloVe vector with negative entries)",
        ],
    )
