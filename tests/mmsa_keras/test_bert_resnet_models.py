import numpy as np
import pytest

from mmsa_keras.models.base import class_scores
from mmsa_keras.registry import create_model, list_models
from tests.helpers import random_inputs, run_model_test

TINY = dict(
    text_encoder="small_transformer",
    text_encoder_config={"vocabulary_size": 30, "sequence_length": 8, "hidden_dim": 16, "intermediate_dim": 16},
    image_encoder="small_cnn",
    image_encoder_config={"image_size": 16, "filters": (4, 8), "output_dim": 8},
    hidden_dim=8,
    head_hidden_dim=8,
)
FEATURES = dict(text_feature_shape=(6, 12), image_feature_shape=(9, 10), hidden_dim=8, head_hidden_dim=8)
NAMES = ["native_cat", "native_combine", "cmac", "hstec", "ote", "bert_resnet_text_only", "bert_resnet_image_only"]


def _overrides(name, mode):
    base = dict(TINY if mode == "raw" else FEATURES)
    if name in ("cmac", "hstec"):
        base.update(num_heads=2, image_channels=4)
    if name in ("hstec", "ote"):
        base.update(num_heads=2, intermediate_dim=8)
    return base


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["raw", "features"])
def test_build_fit_round_trip_and_missing_modalities(name, mode, tmp_path):
    model = run_model_test(
        lambda: create_model(name, **_overrides(name, mode)), tmp_path, mixed_precision=mode == "raw"
    )
    probs = np.asarray(class_scores(model(random_inputs(model, batch_size=4))))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["native_cat", "native_combine", "cmac", "hstec", "ote"])
def test_an_absent_image_has_no_influence(name):
    model = create_model(name, **_overrides(name, "raw"))
    inputs = random_inputs(model, batch_size=2)
    inputs["image_present"] = np.zeros(2, "float32")
    other = dict(inputs, images=inputs["images"] * 5 + 3)
    np.testing.assert_allclose(
        np.asarray(class_scores(model(inputs))), np.asarray(class_scores(model(other))), atol=1e-5
    )


def test_native_combine_is_the_renormalised_sum_of_its_heads():
    model = create_model("native_combine", **_overrides("native_combine", "features"))
    inputs = random_inputs(model, batch_size=5)
    inputs["text_present"] = np.array([1, 1, 0, 1, 0], "float32")
    inputs["image_present"] = np.array([1, 0, 1, 1, 0], "float32")
    out = {k: np.asarray(v) for k, v in model(inputs).items()}
    pt, pi = out["text_probabilities"], out["image_probabilities"]
    wt, wi = inputs["text_present"][:, None], inputs["image_present"][:, None]
    none = (wt + wi) == 0
    wt, wi = wt + none, wi + none
    expected = (wt * pt + wi * pi) / (wt * pt + wi * pi).sum(-1, keepdims=True)
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5)
    np.testing.assert_allclose(out["probabilities"][1], pt[1], rtol=1e-5)  # image absent: text head alone


@pytest.mark.parametrize("model_name", ["cmac", "hstec"])
def test_cmac_and_hstec_sum_head_logits_then_softmax(model_name):
    """Default fusion: softmax(logit_text + logit_image) = the renormalised product of the head probabilities."""
    model = create_model(model_name, **_overrides(model_name, "features"))
    inputs = random_inputs(model, batch_size=3)
    out = {k: np.asarray(v) for k, v in model(inputs).items()}
    product = out["text_probabilities"] * out["image_probabilities"]
    np.testing.assert_allclose(out["probabilities"], product / product.sum(-1, keepdims=True), rtol=1e-5)
    # the literal reading stays available, and its cap is why it is not the default
    literal = create_model(model_name, fusion="softmax_sum", **_overrides(model_name, "features"))
    out = {k: np.asarray(v) for k, v in literal(random_inputs(literal, batch_size=3)).items()}
    s = out["text_probabilities"] + out["image_probabilities"]
    np.testing.assert_allclose(out["probabilities"], np.exp(s) / np.exp(s).sum(-1, keepdims=True), rtol=1e-5)
    assert out["probabilities"].max() <= np.e**2 / (np.e**2 + 2) + 1e-6


def test_ote_attends_over_two_tokens():
    """OTE's encoder sees a text token and an image token: attention weights are not identically one."""
    import keras

    model = create_model("ote", **_overrides("ote", "features"))
    tokens = keras.Model(model.input, model.get_layer("tokens").output)
    inputs = random_inputs(model, batch_size=2)
    x = tokens(inputs)
    assert tuple(x.shape) == (2, 2, model.get_config()["hidden_dim"])
    _, scores = model.get_layer("encoder")._self_attention_layer(x, x, return_attention_scores=True)
    scores = np.asarray(scores)  # [batch, heads, 2 queries, 2 keys]
    assert scores.shape[-2:] == (2, 2) and np.allclose(scores.sum(-1), 1.0) and scores.max() < 1.0


def test_registry_lists_models_with_paper_and_table():
    specs = {s.name: s for s in list_models()}
    assert set(NAMES) <= set(specs)
    assert all(specs[n].paper == "002" for n in NAMES)
    with pytest.raises(ValueError, match="unknown model"):
        create_model("no_such_model")


def test_every_registered_model_goes_through_run_model_test():
    """The per-paper model tests together cover every registry name with `run_model_test`."""
    from tests.mmsa_keras import (
        test_instagram_and_mvsa_models,
        test_joint_fusion_models,
        test_mvso_gated_models,
    )

    covered = set(NAMES) | set(test_joint_fusion_models.NAMES) | {n for n, _ in test_mvso_gated_models.CASES}
    covered |= {n for n, _ in test_instagram_and_mvsa_models.CASES} | {"wann"}  # wann: its own Sequential test
    assert {s.name for s in list_models()} == covered
