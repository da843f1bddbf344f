"""Each table's procedure against its paper: fixed where it departed silently, declared where it must depart.

The numbers in the comments are the issue's item numbers (paper 003: 1-8,
paper 000: 9-12, paper 001: 13-14, paper 002: 15-16, paper 004: 17).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest

from data_pipelines.datasets import load_dataset
from data_pipelines.report import DataReport
from experiments import runner
from experiments.tables import load_table
from mmsa_keras.app.builders import build_encoder, make_preprocessor
from mmsa_keras.app.plan import make_plan
from tests.data_pipelines.bad_input import jpeg_bytes


@pytest.fixture()
def offline(monkeypatch):
    """No network here: ImageNet weights cannot be had (the runner must say so, not fail)."""
    monkeypatch.setattr(runner, "_IMAGENET", {})
    monkeypatch.setattr(runner, "imagenet_available", lambda name: (False, "no network"))


def _vso(root, n=60, num_classes=2):
    """A small MVSO-layout dataset: half positive ANPs, half negative, with tags."""
    (root / "images" / "happy_dog").mkdir(parents=True)
    (root / "images" / "sad_rain").mkdir(parents=True)
    (root / "anp_sentiment.csv").write_text("anp,sentiment\nhappy_dog,1.2\nsad_rain,-0.9\n")
    lines = ["id,anp,title,description,tags"]
    for i in range(n):
        anp = "happy_dog" if i % 2 else "sad_rain"
        desc = 'a walk in the park with friends <a href="http://x.org" rel="nofollow">link</a>'
        lines.append(f'{i},{anp},Title {i},"{desc}",tag1 tag2')
        (root / "images" / anp / f"{i}.jpg").write_bytes(jpeg_bytes(16, colour=(200, 20 * (i % 2), 30)))
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def _ctx(table, data_dir, **kw):
    defaults = dict(
        format=None,
        protocol=None,
        text_encoder=None,
        image_encoder=None,
        image_weights=None,
        variant=None,
        epochs=None,
        finetune=False,
        out=tempfile.mkdtemp(prefix="mmsa_ctx_"),  # the runner claims OUT/<table>: never the working folder
        verbose=0,
        vary_split=False,
        glove=None,
    )
    defaults.update(kw)
    return runner._prepare(load_table(table), data_dir, **defaults)


# ---------------------------------------------------------------- paper 003
def test_3_table6_pixel_rows_read_32_pixel_images_on_any_data(tmp_path, offline):
    table = load_table("mvso_gated/table6")
    pixel_row = table.rows[0]
    assert pixel_row.model == "mvso_pixel_cnn_classifier" and pixel_row.architecture == {"image_size": 32}
    ctx = _ctx("mvso_gated/table6", str(_vso(tmp_path / "vso")))
    config = ctx.train_config(pixel_row, 0)
    plan = make_plan(config)
    assert plan.preprocessing.image_size == 32 and config.image_encoder == "mvso_pixel_cnn"
    feature_row = ctx.train_config(table.rows[2], 0)
    assert feature_row.image_size == 227 and feature_row.image_encoder == "alexnet"  # AlexNet fc7 rows keep 227


def test_1_2_alexnet_weights_are_given_per_encoder_or_declared(tmp_path, offline):
    ctx = _ctx("mvso_gated/table8", str(_vso(tmp_path / "vso")))
    assert ctx.image_weights == {"alexnet": "none", "resnet50": "none"}  # no ImageNet here, no AlexNet file
    assert any("resnet50 ran with RANDOM weights" in d for d in ctx.departures)
    row1 = load_table("mvso_gated/table8").rows[0]
    plan = make_plan(ctx.train_config(row1, 0))  # AlexNet never asked for ImageNet weights (it has none)
    assert plan.encoders["image"].name == "alexnet" and plan.encoders["image"].weights is None
    departures = runner._plan_departures(ctx, row1, plan)
    assert any("alexnet randomly initialised" in d and "--image-weights alexnet=FILE" in d for d in departures)
    weights = tmp_path / "alexnet.weights.h5"
    weights.write_bytes(b"x")
    given = _ctx("mvso_gated/table8", str(tmp_path / "vso"), image_weights=f"alexnet={weights}")
    assert given.image_weights["alexnet"] == str(weights)
    assert given.train_config(row1, 0).image_weights == str(weights)


def test_4_labels_from_a_file_balanced_as_the_paper_or_the_anp_stand_in_declared(tmp_path, offline):
    root = _vso(tmp_path / "vso", n=40)
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n" + "".join(f"{i},{'positive' if i < 30 else 'negative'}\n" for i in range(40)))
    ds = load_dataset(
        str(root), "vso", report=DataReport(max_messages=0), num_classes=2, label_file=str(labels), balance_per_class=10
    )
    assert np.bincount([p.label for p in ds.all_posts()]).tolist() == [10, 10]  # subsampled to 10 per class
    assert any("labels from" in n and "labels.csv" in n for n in ds.notes)
    ctx = _ctx("mvso_gated/table2", str(root))
    runner._split_info(ctx)
    assert any("ANP-score labels stand in" in n for n in ctx.split_notes)
    ctx = _ctx("mvso_gated/table2", str(root), options={"label_file": str(labels)})
    runner._split_info(ctx)
    assert not any("ANP-score labels stand in" in n for n in ctx.split_notes)


def test_5_text_procedure_and_split_fractions(tmp_path, offline):
    import tensorflow as tf

    from data_pipelines.tokenization import VocabularyTokenizer

    table = load_table("mvso_gated/table8")
    assert table.training["sequence_length"] == 101
    assert table.training["tokenizer_options"] == {"standardize": "keep_punctuation", "max_tokens": 103000}
    tok = VocabularyTokenizer(12, 103000, standardize="keep_punctuation")
    tok.adapt(['A walk! <a href="http://x.org" rel="nofollow">park</a>'])
    ids = tok(tf.constant(['walk! <a href="http://y.org">park</a>']))["token_ids"].numpy()[0]
    words = ["", "[UNK]", *tok.vocabulary()]
    assert [words[i] for i in ids if i] == ["walk", "!", "href", "rel", "park"]
    root = _vso(tmp_path / "vso", n=100)
    ds = load_dataset(
        str(root),
        "vso",
        report=DataReport(max_messages=0),
        num_classes=2,
        split="random",
        split_fractions=[0.7, 0.2, 0.1],
        min_words=10,
    )
    assert [len(ds[s]) for s in ("train", "validation", "test")] == [70, 20, 10]
    # the 10-word filter counts title + description + tags: 12 words of text + 2 tags pass a 14-word filter
    kept = load_dataset(str(root), "vso", report=DataReport(max_messages=0), num_classes=2, min_words=14)
    assert len(kept.all_posts()) == 100
    with pytest.raises(ValueError, match="no labelled posts"):
        load_dataset(str(root), "vso", report=DataReport(max_messages=0), num_classes=2, min_words=15)


def test_6_fixed_epoch_rows_train_exactly_their_epochs(tmp_path, offline):
    ctx = _ctx("mvso_gated/table2", str(_vso(tmp_path / "vso")))
    for row, epochs in zip(load_table("mvso_gated/table2").rows, (30, 60)):
        config = ctx.train_config(row, 0)
        assert config.epochs == epochs and config.early_stopping is False
        assert make_plan(config).stopping.describe() == f"exactly {epochs} epochs (no early stopping)"


def test_7_table9_starts_from_the_best_classical_model_with_sgd_001(tmp_path):
    from mmsa_keras.app.fitting import init_weights_from
    from mmsa_keras.registry import create_model

    table = load_table("mvso_gated/table9")
    start = table.rows[0]
    assert start.model == "mvso_gated" and all(r.init_from == start.name for r in table.rows[1:])
    assert table.training["optimizer"] == "sgd" and table.training["learning_rate"] == 0.01
    test = load_table("mvso_gated/test")
    assert test.rows[1].init_from == test.rows[0].name and test.rows[1].training["learning_rate"] == 0.01
    shapes = dict(text_feature_shape=(12,), image_feature_shape=(20,), compressed_dim=6, num_classes=2)
    classical = create_model("mvso_gated", **shapes)
    path = str(tmp_path / "classical.keras")
    classical.save(path)
    embedding = create_model("mvso_gated_embedding", **shapes)
    copied = init_weights_from(embedding, path)
    assert set(copied) == {"image_compression", "text_gate", "image_gate"}  # everything below the softmax
    for name in copied:
        for a, b in zip(embedding.get_layer(name).get_weights(), classical.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_8_glove_label_vectors_reach_every_embedding_row_or_the_stand_in_is_declared(tmp_path, offline):
    glove = tmp_path / "glove.txt"
    glove.write_text("negative " + " ".join(["0.1"] * 50) + "\npositive " + " ".join(["-0.2"] * 50) + "\n")
    root = str(_vso(tmp_path / "vso"))
    table = load_table("mvso_gated/table4")
    with_glove = _ctx("mvso_gated/table4", root, glove=str(glove))
    for row in table.rows:
        vectors = with_glove.train_config(row, 0).model_overrides["label_vectors"]
        assert np.allclose(vectors[0], 0.1) and np.allclose(vectors[1], -0.2)
    without = _ctx("mvso_gated/table4", root)
    plan = make_plan(without.train_config(table.rows[0], 0))
    assert any("orthonormal stand-in" in d for d in runner._plan_departures(without, table.rows[0], plan))


# ---------------------------------------------------------------- paper 000
def test_9_the_cnn_trains_with_augmentation_and_balancing_and_the_caption_model_as_the_paper(tmp_path, offline):
    table = load_table("instagram_wann/table3")
    cnn, rnn, wann = table.rows
    assert cnn.training["balance_to"] == 1400 and cnn.training["augment"] is True
    assert rnn.architecture == {"text_transform": "lemmatise"}
    assert rnn.training["optimizer"] == "adamw" and rnn.training["warmup_steps"] == 500
    assert rnn.training["weight_decay"] == 0.01 and rnn.training["batch_size"] == 8
    ctx = _ctx("instagram_wann/table3", str(tmp_path), finetune=True)  # no data needed to resolve the plans
    cnn_config = ctx.train_config(cnn, 0).replace(image_weights="none", text_encoder="minilm_l6")
    plan = make_plan(cnn_config, check_paths=False)
    assert plan.stopping.describe() == "exactly 150 epochs (no early stopping)"  # the paper reports epoch 150
    assert plan.encoders["image"].unfreeze == "all" and not plan.feature_mode  # --finetune unfreezes it
    assert plan.preprocessing.augment and plan.preprocessing.balance_to == 1400
    frozen = make_plan(cnn_config.replace(unfreeze="0"), check_paths=False)
    assert frozen.preprocessing.augment and not frozen.stored_modalities  # augmented images through it: raw mode
    from mmsa_keras.registry import create_model

    head = create_model("instagram_text_classifier", text_feature_shape=(12,))
    assert head.get_layer("dense").activation.__name__ == "tanh"  # Hugging Face's classification head


def test_9_lemmatisation_runs_in_training_and_in_the_exported_graph(tmp_path):
    import tensorflow as tf

    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.post import Post

    pre = Preprocessor(image_size=8, sequence_length=6, normalisation="none", text_transform="lemmatise")
    posts = [Post("1", "the mice were running", None, 0), Post("2", "dogs barked", None, 1)]
    pre.fit(posts, verbose=False)
    assert {"mouse", "run", "dog", "bark"} <= set(pre.tokenizer.vocabulary())
    pre.save(str(tmp_path))
    again = Preprocessor.load(str(tmp_path))
    served = again.serve(tf.constant(["Mice running"]), tf.constant([b""]))
    ids = served["token_ids"].numpy()[0]
    words = ["", "[UNK]", *again.tokenizer.vocabulary()]
    assert [words[i] for i in ids if i] == ["mouse", "run"]


def test_10_the_wann_learns_from_posts_the_unimodal_models_never_saw(synthetic_dir):
    from mmsa_keras.app.runs import load_split_data

    main = load_split_data(synthetic_dir, "mvsa", 0, holdout_fraction=0.3, verbose=False)
    held = load_split_data(synthetic_dir, "mvsa", 0, holdout_fraction=0.3, train_on_holdout=True, verbose=False)
    full = load_split_data(synthetic_dir, "mvsa", 0, verbose=False)
    a, b = {p.id for p in main["train"]}, {p.id for p in held["train"]}
    assert not a & b and a | b == {p.id for p in full["train"]}
    assert abs(len(b) - 0.3 * len(full["train"])) <= 3
    assert [p.id for p in main["test"]] == [p.id for p in held["test"]] == [p.id for p in full["test"]]
    rows = {r.name: r for r in load_table("instagram_wann/table3").rows}
    assert rows["CNN"].holdout == rows["RNN"].holdout == "main" and rows["WANN"].holdout == "holdout"


def test_11_the_image_cnn_normalises_by_training_split_statistics(tmp_path, offline):
    ctx = _ctx("instagram_wann/table3", str(tmp_path))
    config = ctx.train_config(load_table("instagram_wann/table3").rows[0], 0).replace(image_weights="none")
    plan = make_plan(config, check_paths=False)
    assert plan.encoders["image"].kwargs["input_preprocessing"] == "none"
    assert plan.preprocessing.normalisation == "mean_std"
    encoder = build_encoder(plan.encoders["image"], make_preprocessor(plan.preprocessing))
    assert not any(layer.name == "preprocess_input" for layer in encoder.layers)  # no Caffe preprocessing


def test_12_table4_rows_show_no_table3_values_and_its_pairs_sum_to_7009():
    table = load_table("instagram_wann/table4")
    assert all(not r.paper for r in table.rows if r.kind == "keras")
    pairs = next(r for r in table.rows if r.kind == "wann_pairs").paper["pairs"]
    assert sum(sum(v["counts"]) for v in pairs.values()) == 7009


# ---------------------------------------------------------------- paper 001
def test_13_models_are_selected_by_validation_weighted_f1(synthetic_dir, tmp_path):
    from mmsa_keras.app.config import TrainConfig
    from mmsa_keras.app.training import train

    table = load_table("mvsa_mha/results")
    assert table.training["monitor"] == table.embedded_training["monitor"] == "val_weighted_f1"
    summary = train(
        TrainConfig(
            model="mvsa_mha_text",
            data_dir=synthetic_dir,
            out=str(tmp_path / "r"),
            epochs=2,
            image_size=16,
            sequence_length=8,
            monitor="val_weighted_f1",
            verbose=0,
        )
    )
    assert "val_weighted_f1" in summary.history


# ---------------------------------------------------------------- paper 002
def test_16_vary_split_draws_a_split_per_seed(tmp_path, offline):
    fixed = _ctx("bert_resnet/table4", str(tmp_path))
    varied = _ctx("bert_resnet/table4", str(tmp_path), vary_split=True)
    assert runner._drawn(fixed, 2)["seed"] == 0 and runner._drawn(varied, 2)["seed"] == 2
    row = load_table("bert_resnet/table4").rows[0]
    assert fixed.train_config(row, 2).split_seed == 0 and varied.train_config(row, 2).split_seed == 2


# ---------------------------------------------------------------- paper 004
def _emotion(root, n=20):
    for cls in ("happy", "rage"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            (root / cls / f"{i}.jpg").write_bytes(jpeg_bytes(8))
            words = "the day with my dog and the sun" if i % 4 else "x"
            (root / cls / f"{i}.json").write_text(
                json.dumps(
                    {
                        "title": f"post {i}",
                        "description": words,
                        "upvotes": i + (100 if cls == "happy" else 0),
                        "agreement": 5 if i % 3 else 2,
                    }
                )
            )
    return root


def test_17_popularity_split_is_global_and_flickr_filters_apply(tmp_path):
    root = _emotion(tmp_path / "reddit")
    ds = load_dataset(str(root), "emotion_folders", report=DataReport(max_messages=0), split="popularity")
    assert {p.id.split("/")[0] for p in ds["test"]} == {"happy"}  # the top 10% of all posts, not per class
    assert len(ds["test"]) == 4 and len(ds["validation"]) == 4
    report = DataReport(max_messages=0)
    flickr = load_dataset(str(root), "emotion_folders", report=report, min_agreement=3, min_words=5, english=True)
    kept = flickr.all_posts()
    assert kept and all(p.meta["agreement"] >= 3 and len(p.text.split()) > 5 for p in kept)
    assert report.count("dropped_row") == 40 - len(kept)
    table = load_table("joint_fusion/table4")
    assert table.dataset.variant_options["flickr"] == {"min_agreement": 3, "min_words": 5, "english": True}


def test_17_glove_initialises_the_word_embeddings(tmp_path):
    from data_pipelines.post import Post
    from mmsa_keras.app.config import TrainConfig

    glove = tmp_path / "glove.txt"
    glove.write_text("dog " + " ".join(["0.5"] * 200) + "\nsun " + " ".join(["-0.5"] * 200) + "\n")
    config = TrainConfig(model="joint_fusion_text_only", data_dir=str(tmp_path), out="x", glove=str(glove))
    plan = make_plan(config)
    pre = make_preprocessor(plan.preprocessing).fit([Post("1", "dog sun cat", None, 0)], verbose=False)
    encoder = build_encoder(plan.encoders["text"], pre)
    table = encoder.get_layer("embeddings").get_weights()[0]
    vocab = ["", "[UNK]", *pre.tokenizer.vocabulary()]
    assert np.allclose(table[vocab.index("dog")], 0.5) and np.allclose(table[vocab.index("sun")], -0.5)
    assert not np.allclose(table[vocab.index("cat")], 0.5)


def test_17_late_fusion_multiplies_the_trained_baselines(tmp_path):
    from mmsa_keras.models.base import class_scores
    from mmsa_keras.registry import create_model
    from tests.helpers import random_inputs

    text = create_model("joint_fusion_text_only", text_feature_shape=(6,), num_classes=4, hidden_dim=5)
    image = create_model("joint_fusion_image_only", image_feature_shape=(7,), num_classes=4)
    paths = [str(tmp_path / "t.keras"), str(tmp_path / "i.keras")]
    text.save(paths[0])
    image.save(paths[1])
    late = create_model(
        "late_fusion", text_model=paths[0], image_model=paths[1], num_classes=4, text_encoder=None, image_encoder=None
    )
    assert not late.trainable_weights  # nothing left to train
    inputs = random_inputs(late, batch_size=3)
    pt = np.asarray(text({k: inputs[k] for k in text.input}))
    pi = np.asarray(image({k: inputs[k] for k in image.input}))
    product = pt * pi / (pt * pi).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(class_scores(late(inputs))), product, rtol=1e-5)
    path = str(tmp_path / "late.keras")
    late.save(path)
    from mmsa_keras.custom_objects import load_model

    np.testing.assert_allclose(np.asarray(class_scores(load_model(path)(inputs))), product, rtol=1e-5)


def test_17_flickr_uses_four_negatives_and_the_report_the_dataset_classes(tmp_path, offline):
    root = str(_emotion(tmp_path / "data"))
    table = load_table("joint_fusion/table4")
    common = next(r for r in table.rows if r.model == "common_space_fusion")
    assert (
        _ctx("joint_fusion/table4", root, variant="flickr").train_config(common, 0).model_overrides["num_negatives"]
        == 4
    )
    reddit = _ctx("joint_fusion/table4", root, variant="reddit")
    assert reddit.train_config(common, 0).model_overrides["num_negatives"] == 3
    runner._split_info(reddit)
    assert reddit.class_names == ["happy", "rage"]


def test_every_table_declares_its_departures():
    from experiments.tables import table_names

    for name in table_names():
        table = load_table(name)
        declared = table.departures + [d for r in table.rows for d in r.departures]
        assert declared, name
    assert os.path.exists(os.path.join(os.path.dirname(runner.__file__), "configs", "_mvso.py"))


def test_popularity_ties_do_not_fill_the_test_split_by_class_name(tmp_path):
    """Flickr agreement is a small integer: with 8 classes x 30 posts and agreement 3-5, every class must be
    able to reach the test and validation splits (ties broken by a seeded shuffle, not by the id's folder)."""
    from data_pipelines.datasets.emotion_folders import popularity_split
    from data_pipelines.post import Post

    rng = np.random.default_rng(0)
    classes = [f"c{k}" for k in range(8)]
    posts = [
        Post(f"{c}/{i:03d}", "x", None, k, meta={"agreement": int(rng.integers(3, 6))})
        for k, c in enumerate(classes)
        for i in range(30)
    ]
    seen = {"test": set(), "validation": set()}
    for seed in range(5):
        splits = popularity_split(posts, 8, seed)
        assert len(splits["test"]) == 24 and all(p.meta["agreement"] == 5 for p in splits["test"])
        for name in seen:
            seen[name] |= {p.label for p in splits[name]}
        assert len({p.label for p in splits["test"]}) >= 5  # one seed already spreads over the classes
    assert seen["test"] == seen["validation"] == set(range(8))
    again = popularity_split(posts, 8, 3)
    assert [p.id for p in again["test"]] == [p.id for p in popularity_split(posts, 8, 3)["test"]]  # seeded


def test_the_ledger_lists_shared_departures_once_and_each_row_only_its_own(tmp_path):
    """Table 4 of paper 002: what every row shares appears once, under "Every row"; the text-only row
    mentions no image layer and the image-only row no caption length."""
    from experiments.runner import reproduce

    reproduce("bert_resnet/table4", smoke=True, out=str(tmp_path), verbose=0, rows=["Bert", "ResNet"])
    report = (tmp_path / "bert_resnet" / "table4" / "report.md").read_text()
    ledger = report.split("## Departures from the paper", 1)[1]
    sections = {s.split("\n", 1)[0].strip(): s for s in ledger.split("### ")[1:]}
    assert "smoke variant" in sections["Every row"] and "early stopping" in sections["Every row"]
    assert ledger.count("early stopping on the validation loss") == 1
    assert "1x1 conv" not in sections["Bert"] and "ResNet map" not in sections["Bert"]
    assert "128 tokens" in sections["Bert"] and "128 tokens" not in sections["ResNet"]


def test_paper_003_heads_see_non_negative_unclipped_features(tmp_path, offline):
    """Paper 003's image rows start with a ReLU over AlexNet fc7 / ResNet pooled features (non-negative):
    the stored features reach that ReLU unstandardised, so it clips nothing, as in the paper."""
    import keras

    from mmsa_keras.registry import create_model

    for name in ("mvso_gated/table1", "mvso_gated/table8"):
        ctx = _ctx(name, str(_vso(tmp_path / name.replace("/", "_"))))
        row = load_table(name).rows[0]
        plan = make_plan(ctx.train_config(row, 0).replace(image_weights="none"), check_paths=False)
        assert plan.stored_modalities == ["image"] and plan.standardized_modalities == []
    head = create_model(
        "mvso_image_classifier", image_feature_shape=(6,), hidden_units=[4], dropouts=[0.0], input_activation="relu"
    )
    features = np.abs(np.random.default_rng(0).normal(size=(3, 6))).astype("float32")
    relu = next(layer for layer in head.layers if "relu" in layer.name or "activation" in layer.name)
    sub = keras.Model(head.input, relu.output)
    seen = sub({k: (features if "feature" in k or k == "image" else np.ones(3, "float32")) for k in head.input})
    np.testing.assert_allclose(np.asarray(seen), features, atol=1e-6)  # the ReLU is the identity on them
