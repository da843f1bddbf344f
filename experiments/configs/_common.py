"""Pieces shared by the table configs: the embedded default and the smoke variant."""

from __future__ import annotations

import copy

#: the embedded synthetic dataset used when no --data-dir is given
SYNTHETIC = {"posts": 600, "image_size": 64, "seed": 0}
#: tiny sizes for the smoke variant (tests)
SMOKE_SYNTHETIC = {"posts": 60, "image_size": 16, "seed": 0}
SMOKE_TRAINING = {
    "epochs": 1,
    "batch_size": 16,
    "image_size": 16,
    "sequence_length": 8,
    "patience": 1,
    "run_eagerly": True,
}
#: tiny encoder sizes for the smoke variant, by encoder name
SMOKE_ENCODER_CONFIGS = {
    "small_transformer": {"hidden_dim": 8, "intermediate_dim": 8, "num_heads": 1},
    "bag_of_embeddings": {"hidden_dim": 8},
    "bilstm": {"units": 4, "embedding_dim": 8},
    "small_cnn": {"filters": [4, 8], "output_dim": 8},
    "mvso_pixel_cnn": {},
}
EMBEDDED_TRAINING = {
    "epochs": 12,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "patience": 3,
    "image_size": 64,
    "sequence_length": 32,
}


def finish(config: dict, smoke: bool) -> dict:
    """Fill the embedded-default settings; the smoke variant: tiny synthetic set, tiny encoders, one epoch.

    Rows keep their `smoke_overrides` / `smoke_params`; the runner applies them in a smoke run.
    """
    config = copy.deepcopy(config)
    config.setdefault("synthetic", dict(SYNTHETIC))
    config.setdefault("embedded_training", dict(EMBEDDED_TRAINING))
    if smoke:
        config["synthetic"] = dict(SMOKE_SYNTHETIC)
        config["embedded_training"] = {**config["embedded_training"], **SMOKE_TRAINING}
        config["encoder_configs"] = dict(SMOKE_ENCODER_CONFIGS)
    return config
