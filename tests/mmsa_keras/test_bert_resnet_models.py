import keras
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


def test_native_combine_head_losses_unstick_a_saturated_head():
    """The collapse on random ResNet-50 features: an image head saturated on one class outvotes the text
    head for ever when only the average is trained; each head's own loss (head_loss_weight) brings it back."""
    rng = np.random.default_rng(0)
    results = {}
    for weight in (0.0, 0.2):
        keras.utils.set_random_seed(0)
        model = create_model("native_combine", head_loss_weight=weight, **_overrides("native_combine", "features"))
        logits = model.get_layer("image_head").logits
        logits.bias.assign(np.array([0.0, 0.0, 40.0], "float32"))  # softmax == [0, 0, 1] in float32
        inputs = random_inputs(model, batch_size=96)
        labels = np.arange(96) % 3
        key = "text_pooled_features" if "text_pooled_features" in inputs else "text_features"
        inputs[key] = (np.eye(3)[labels] @ rng.normal(size=(3, inputs[key].shape[-1]))).astype(
            "float32"
        )  # says the class
        objective = model.training_objective()
        assert set(objective["loss"]) == ({"probabilities"} if not weight else set(model.output))
        model.compile(optimizer=keras.optimizers.Adam(1e-2), **objective)
        model.fit(inputs, {k: labels for k in model.output}, epochs=30, batch_size=32, verbose=0)
        out = {k: np.asarray(v) for k, v in model(inputs).items()}
        results[weight] = (out["image_probabilities"].max(-1).min(), (out["probabilities"].argmax(-1) == labels).mean())
    assert results[0.0][0] > 0.99 and results[0.0][1] <= 0.34 + 1e-6  # stuck: one class for every post
    assert results[0.2][0] < 0.9 and results[0.2][1] > 0.6  # the text decides again (measured 0.74)


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
