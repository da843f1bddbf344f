"""Training recipes: named sets of `TrainConfig` settings (`mmsa recipes`).

`mmsa train --recipe NAME --data-dir D --format F --out RUN` starts from the
recipe's settings; every flag typed explicitly overrides the recipe's value
(`--set` model overrides are merged key by key). The run's `config.json`
records the final settings and the recipe's name.

Each recipe states where its settings come from: they are measured choices
(BENCHMARKS.md, "Real data: MVSA-Single and the Twitter CSV"), not guesses.
"""

from __future__ import annotations

import copy

from mmsa_keras.errors import UsageError

RECIPES: dict[str, dict] = {
    "mvsa": {
        "description": (
            "caption sentiment for image+caption posts that runs offline: MiniLM-L6 fine-tuned end to end "
            "(AdamW, wd 0.01, 100 warm-up steps then linear decay, encoder rate 5e-5 with layer-wise decay 0.9, "
            "head 1e-3, 6 epochs, batch 16, the epoch with the best validation macro F1 kept, square-root "
            "balanced class weights), ensembled with a TF-IDF + logistic-regression caption classifier fitted "
            "on the same training posts (0.75 x MiniLM + 0.25 x TF-IDF), probabilities calibrated by one "
            "temperature; a dataset without its own splits is split 9:1 into train and validation (no test "
            "split: evaluate on held-out posts with `mmsa evaluate --data-dir`). It reads the captions only: "
            "chosen by 3-fold cross-validation on MVSA-Single's protocol-A training posts, where adding the "
            "image branch (a small CNN trained from scratch; no ImageNet weights offline) lowered accuracy "
            "by 4 points (BENCHMARKS.md)"
        ),
        "settings": {
            "model": "bert_resnet_text_only",
            "text_encoder": "minilm_l6",
            "sequence_length": 64,
            "unfreeze": "all",
            "optimizer": "adamw",
            "weight_decay": 0.01,
            "learning_rate": 1e-3,
            "encoder_learning_rate": 5e-5,
            "layer_decay": 0.9,
            "schedule": "linear",
            "warmup_steps": 100,
            "epochs": 6,
            "batch_size": 16,
            "class_weight": "sqrt_balanced",
            # the validation loss of a fine-tuned encoder rises from epoch 2 on while accuracy and macro F1
            # still improve: kept by validation loss, seed 0 kept its first epoch (BENCHMARKS.md)
            "monitor": "val_macro_f1",
            "patience": 6,
            # MiniLM and TF-IDF err on different posts: blended out of fold, 0.25 gave the best mean of
            # accuracy and macro F1 of the weights tried (0.25, 0.4, 0.5; BENCHMARKS.md)
            "tfidf_weight": 0.25,
            # the final model trains on every post but the validation tenth, as each CV fold did
            "test_split": False,
        },
    },
}


def recipe_settings(name: str) -> dict:
    """A copy of recipe `name`'s settings; a clear error names the known recipes."""
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))} (see `mmsa recipes`)")
    return copy.deepcopy(RECIPES[name]["settings"])
