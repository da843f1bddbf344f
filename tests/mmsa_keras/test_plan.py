"""The run plan: one resolution of every setting; what cannot be honoured is an error or a stated route."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mmsa_keras.app.builders import build_encoder, encoder_arguments, make_preprocessor
from mmsa_keras.app.config import TrainConfig
from mmsa_keras.app.plan import RunPlan, make_plan
from mmsa_keras.errors import UsageError
from tests.conftest import REPO


def _config(data_dir, **kw):
    base = dict(model="native_cat", data_dir=data_dir, out="unused")
    base.update(kw)
    return TrainConfig(**base)


def test_the_plan_round_trips_and_is_what_run_config_stores(synthetic_dir):
    plan = make_plan(_config(synthetic_dir, image_encoder="resnet50", image_weights="none", unfreeze="1"))
    again = RunPlan.from_dict(plan.to_dict())
    assert again == plan
    image = plan.encoders["image"]
    assert image.pretrained and image.unfreeze == 1 and image.weights is None and not plan.feature_mode
    assert plan.preprocessing.image_size == 224 and plan.preprocessing.normalisation == "none"
    assert any("random initialisation" in n for n in plan.notes)


def test_augmentation_with_frozen_encoders_trains_in_raw_mode_not_silently_dropped(synthetic_dir):
    frozen = dict(
        text_encoder="bag_of_embeddings",
        image_encoder="mobilenet_v2",
        image_weights="none",
        model="joint_fusion_image_only",
    )
    auto = make_plan(_config(synthetic_dir, **frozen))
    assert auto.feature_mode and not auto.preprocessing.augment  # auto: no augmentation, features stored once
    assert any("augmentation off: the image encoder is frozen" in n for n in auto.notes)
    asked = make_plan(_config(synthetic_dir, augment=True, **frozen))
    assert not asked.feature_mode and asked.preprocessing.augment  # honoured by another route: raw mode
    assert any("raw mode" in n for n in asked.notes)
    with pytest.raises(UsageError, match="cannot honour --augment"):
        make_plan(_config(synthetic_dir, augment=True, feature_mode="on", **frozen))


def test_balancing_is_honoured_in_feature_mode(synthetic_dir, tmp_path):
    from data_pipelines.features import StoredFeatures, extract_features, feature_stream
    from mmsa_keras.app.runs import load_split_data

    plan = make_plan(
        _config(
            synthetic_dir,
            model="joint_fusion_image_only",
            image_encoder="mobilenet_v2",
            image_weights="none",
            image_size=32,
            balance_to=30,
        )
    )
    assert plan.feature_mode and plan.preprocessing.balance_to == 30
    dataset = load_split_data(synthetic_dir, "mvsa", 0, verbose=False)
    pre = make_preprocessor(plan.preprocessing).fit(dataset.labelled("train"), verbose=False)
    encoder = build_encoder(plan.encoders["image"], pre, seed=0)
    fs = extract_features(encoder, "image", dataset.all_posts(), pre, str(tmp_path), verbose=False)
    ds, steps = feature_stream(
        dataset.labelled("train"), StoredFeatures(image=fs), batch_size=16, balance_to=30, shuffle=True
    )
    labels = np.concatenate([y.numpy() for _, y in ds])
    assert np.bincount(labels).tolist() == [30, 30, 30] and steps == 6


@pytest.mark.parametrize(
    "kw,words",
    [
        ({"unfreeze": "2"}, "nothing frozen to unfreeze"),
        ({"unfreeze": "some"}, "--unfreeze"),
        ({"weight_decay": 0.1}, "--optimizer adamw"),
        ({"image_weights": "imagenet"}, "trained from scratch"),
        ({"image_encoder": "alexnet", "image_weights": "imagenet"}, "no ImageNet weights"),
        ({"image_encoder": "resnet50", "image_weights": "/no/file.h5"}, "no such file"),
        (
            {
                "encoder_learning_rate": 1e-5,
                "text_encoder": "small_transformer",
                "image_encoder": "resnet50",
                "feature_mode": "on",
                "image_weights": "none",
            },
            "every encoder pretrained",
        ),
        ({"layer_decay": 0.9}, "--layer-decay needs an unfrozen pretrained text encoder"),
        ({"model_overrides": {"hiden_dim": 3}}, "did you mean 'hidden_dim'"),
        ({"model_overrides": {"text_encoder": "x"}}, "use --text-encoder"),
        ({"model": "wann"}, "head over other models"),
        ({"model": "native_kat"}, "did you mean 'native_cat'"),
        ({"format": "nope"}, "unknown dataset format"),
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"monitor": "val_f1"}, "--monitor must be one of"),
        ({"class_weight": "weights.json"}, "neither 'balanced', 'sqrt_balanced' nor an existing JSON file"),
        ({"tfidf_weight": 1.0}, "--tfidf-weight 1.0: must lie in"),
    ],
)
def test_settings_that_cannot_be_honoured_are_errors(synthetic_dir, kw, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace("?", r"\?")):
        make_plan(_config(synthetic_dir, **kw))


@pytest.mark.usefixtures("minilm_installed")
def test_unfreeze_has_one_meaning_for_text_and_image_backbones(synthetic_dir):
    plan = make_plan(
        _config(
            synthetic_dir,
            text_encoder="minilm_l6",
            image_encoder="resnet50",
            image_weights="none",
            unfreeze="2",
            encoder_learning_rate=1e-5,
        )
    )
    assert plan.encoders["text"].unfreeze == 2 and plan.encoders["image"].unfreeze == 2
    assert encoder_arguments(plan.encoders["text"])["unfreeze"] == 2 and not plan.feature_mode


def test_a_tfidf_weight_of_zero_turns_the_blend_off_and_the_blend_runs_raw(synthetic_dir):
    assert make_plan(_config(synthetic_dir, tfidf_weight=0.0)).tfidf_weight is None
    plan = make_plan(_config(synthetic_dir, tfidf_weight=0.25))
    assert plan.tfidf_weight == 0.25 and not plan.stored_modalities
    assert any("0.75 x model + 0.25 x TF-IDF" in line for line in plan.describe())


def test_a_class_weight_file_is_checked_and_kept_absolute(synthetic_dir, tmp_path, monkeypatch):
    """Read before the run starts (not after the dataset loads) and kept absolute (a resume from another folder
    finds it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.json").write_text('{"neutral": 2.0}')
    assert make_plan(_config(synthetic_dir, class_weight="w.json")).class_weight == str(tmp_path / "w.json")
    for text in ("[1, 2]", '{"neutral": "x"}', "{not json"):
        (tmp_path / "w.json").write_text(text)
        with pytest.raises(UsageError, match="--class-weight w.json: "):
            make_plan(_config(synthetic_dir, class_weight="w.json"))


def test_the_split_seed_is_its_own_setting(synthetic_dir):
    plan = make_plan(_config(synthetic_dir, seed=3, format_options={"split": "random"}))
    assert plan.data.split_seed == 3 and plan.data.format_options["seed"] == 3
    fixed = make_plan(_config(synthetic_dir, seed=3, split_seed=0, format_options={"split": "random"}))
    assert fixed.data.split_seed == 0 and fixed.data.format_options["seed"] == 0


def test_data_pipelines_does_not_import_mmsa_keras():
    """No back-edge: the data layer stands alone (docs/ARCHITECTURE.md §1)."""
    script = (
        "import data_pipelines, data_pipelines.pipeline, data_pipelines.features, data_pipelines.describe, "
        "data_pipelines.datasets as d, sys; d._import_all(); "
        "assert not any(m.startswith('mmsa_keras') for m in sys.modules), "
        "[m for m in sys.modules if m.startswith('mmsa_keras')]"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_mmsa_keras_does_not_import_experiments():
    script = (
        "import sys, mmsa_keras.app.cli, mmsa_keras.app.training, mmsa_keras.app.runs, mmsa_keras.models; "
        "mmsa_keras.app.cli.build_parser(); "
        "assert not any(m == 'experiments.runner' for m in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import ast
    import os

    for root, _, files in os.walk(os.path.join(REPO, "mmsa_keras")):
        for f in files:
            if f.endswith(".py"):
                tree = ast.parse(open(os.path.join(root, f), encoding="utf-8").read())
                for node in ast.walk(tree):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                        assert not any(n.startswith("experiments") for n in names), f
