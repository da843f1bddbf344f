"""Paper 003, Table 8: combined text + image models, 2 classes.

Image: ResNet-50 pooled features (2048-d) of the 32x32 images upsampled to 224.
Text: the BiLSTM (Embedding 200 → BiLSTM 300). Rows: the best image-only
(AlexNet features, 60 epochs) and text-only classifiers, feature concatenation
+ linear layer, and the GL1/GL2 gated rows (image retained or compressed to
600, dropout 0.3 or none).
"""

from experiments.configs._mvso import ALEXNET_NOTE, config, image_row

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
COMBINED = {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "image_source_size": 32}
COMBINED_DEPARTURES = [
    "the optimiser of the combined models is not given: Adam 1e-3 for 10 epochs",
    "the BiLSTM trains jointly with the combined model (the paper trained it first and used its penultimate output)",
]


def get_config(smoke: bool = False) -> dict:
    best_image = image_row("Best image-only (60 epochs)", [2048, 1024, 512], [0.7, 0.7, 0.5], 0.633, epochs=60)
    best_image.update(
        paper_image_encoder="alexnet",
        departures=[
            ALEXNET_NOTE,
            "the paper's 0.633 is Table 2's Model 2 (trained on text-scored labels, about 5K posts per class); "
            "this row trains the same network on Table 8's ANP-labelled data, so the two figures are not "
            "measured on the same labels",
        ],
    )
    best_image["training"] = {
        "epochs": 60,
        "optimizer": "sgd",
        "learning_rate": 1e-3,
        "momentum": 0.9,
        "image_size": 227,
        "image_source_size": None,
    }
    rows = [
        best_image,
        {
            "name": "Best text-only (BiLSTM)",
            "model": "mvso_text_bilstm",
            "paper": {"accuracy": 0.796},
            "departures": ["the text model's optimiser and epochs are not given: Adam 1e-3, 10 epochs"],
        },
        {
            "name": "Concatenation + linear",
            "model": "mvso_concat_linear",
            "paper": {"accuracy": 0.807},
            "departures": list(COMBINED_DEPARTURES),
        },
    ]
    for n, (tg, ig, shape, drop, acc) in enumerate(GATED, start=1):
        rows.append(
            {
                "name": f"Txt {tg}, Img {ig}, {shape}, dropout {drop or 'none'} (row {n})",
                "model": "mvso_gated",
                "paper": {"accuracy": acc},
                "overrides": {"text_gate": tg, "image_gate": ig, "image_shape": shape, "dropout": drop},
                "smoke_overrides": {"compressed_dim": 6},
                "departures": list(COMBINED_DEPARTURES),
            }
        )
    return config(
        "Table 8",
        rows,
        2,
        COMBINED,
        smoke,
        __doc__.split("\n\n", 1)[1].strip() + " Rows 1 and 3 of the gated block are listed with the same "
        "settings in the paper.",
        image="resnet50",
        image_weights="imagenet",
        per_class=38000,
        departures=[
            "section 2.2's filters are not applied: posts whose image is no longer accessible stay in (the "
            "image rows see them as zero features, the text rows as usual), and the English/spelling filter "
            "is absent (the paper names no tool); filter the label file first to apply them",
        ],
    )
