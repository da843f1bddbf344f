"""Paper 003, Table 8: combined text + image models, 2 classes.

Image: ResNet-50 pooled features (2048-d). Text: the BiLSTM (Embedding 200 →
BiLSTM 300). Rows: the best image-only and text-only classifiers, feature
concatenation + linear layer, and the GL1/GL2 gated rows (image retained or
compressed to 600, dropout 0.3 or none). The paper trains the BiLSTM first and
uses its penultimate output; here the combined models train the BiLSTM jointly
with the head.
"""

from experiments.configs._mvso import config, image_row

GATED = [
    ("GL1", "GL1", "retained", None, 0.805),
    ("GL1", "GL1", "retained", 0.3, 0.806),
    ("GL1", "GL1", "retained", None, 0.804),
    ("GL2", "GL2", "retained", None, 0.806),
    ("GL2", "GL2", "retained", 0.3, 0.808),
    ("GL1", "GL2", "compressed", None, 0.804),
    ("GL2", "GL2", "compressed", None, 0.805),
    ("GL2", "GL2", "compressed", 0.3, 0.804),
]


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            **image_row("Best image-only (60 epochs)", [2048, 1024, 512], [0.7, 0.7, 0.5], 0.633, epochs=60),
            "paper_image_encoder": "alexnet",
        },
        {"name": "Best text-only (BiLSTM)", "model": "mvso_text_bilstm", "paper": {"accuracy": 0.796}},
        {"name": "Concatenation + linear", "model": "mvso_concat_linear", "paper": {"accuracy": 0.807}},
    ]
    for n, (tg, ig, shape, drop, acc) in enumerate(GATED, start=1):
        rows.append(
            {
                "name": f"Txt {tg}, Img {ig}, {shape}, dropout {drop or 'none'} (row {n})",
                "model": "mvso_gated",
                "paper": {"accuracy": acc},
                "overrides": {"text_gate": tg, "image_gate": ig, "image_shape": shape, "dropout": drop},
                "smoke_overrides": {"compressed_dim": 6},
            }
        )
    return config(
        "Table 8",
        rows,
        2,
        {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10},
        smoke,
        __doc__.split("\n\n", 1)[1].strip() + " Rows 1 and 3 of the gated block are listed with "
        "the same settings in the paper.",
        image="resnet50",
        image_weights="imagenet",
    )
