import keras
import numpy as np
import pytest

from mmsa_keras.models.base import class_scores
from mmsa_keras.registry import create_model
from tests.helpers import random_inputs, run_model_test

RAW = dict(
    text_encoder="small_transformer",
    text_encoder_config={"vocabulary_size": 30, "sequence_length": 8, "hidden_dim": 8, "intermediate_dim": 8},
    image_encoder="small_cnn",
    image_encoder_config={"image_size": 16, "filters": (4,), "output_dim": 8},
)
FEATURES = dict(text_feature_shape=(12,), image_feature_shape=(20,))
SEQUENCE_FEATURES = dict(text_feature_shape=(6, 12), image_feature_shape=(9, 20))
SMALL = {
    "instagram_image_cnn": dict(hidden_dim=8),
    "instagram_text_classifier": {},
    "mvsa_mha_text": {},
    "mvsa_mha_image": {},
    "mvsa_mha_fusion": dict(text_projection_dim=8, image_projection_dim=16, num_heads=2, hidden_dim=8),
}
CASES = [(n, m) for n in sorted(SMALL) for m in ("raw", "features")] + [("instagram_wann", "raw")]


@pytest.mark.parametrize("name,mode", CASES)
def test_build_fit_round_trip_and_missing_modalities(name, mode, tmp_path):
    features = SEQUENCE_FEATURES if name == "mvsa_mha_fusion" else FEATURES
    model = run_model_test(
        lambda: create_model(name, **(RAW if mode == "raw" else features), **SMALL.get(name, {})),
        tmp_path,
        mixed_precision=mode == "raw",
    )
    inputs = random_inputs(model, batch_size=4)
    batch = {k: (np.zeros_like(v) if k.endswith("_present") or k == "padding_mask" else v) for k, v in inputs.items()}
    out = np.asarray(class_scores(model(batch)))
    assert np.all(np.isfinite(out)) and np.allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_mvsa_mha_fusion_freezes_its_encoders_and_keeps_text_without_image():
    model = create_model("mvsa_mha_fusion", **RAW, **SMALL["mvsa_mha_fusion"])
    encoders = [layer for layer in model.layers if layer.name in ("small_transformer", "small_cnn")]
    assert len(encoders) == 2 and not any(e.trainable for e in encoders)
    inputs = random_inputs(model, batch_size=3)
    inputs["image_present"] = np.zeros(3, "float32")
    other = dict(inputs, images=inputs["images"] + 10)
    np.testing.assert_allclose(np.asarray(model(inputs)), np.asarray(model(other)), atol=1e-5)


def test_wann_is_a_sequential_over_concatenated_probabilities():
    head = create_model("wann")
    assert isinstance(head, keras.Sequential)
    assert head.input_shape == (None, 6) and head.output_shape == (None, 3)
    kinds = [type(layer).__name__ for layer in head.layers]
    assert kinds == ["Dense", "BatchNormalization", "Dropout", "Dense", "BatchNormalization", "Dropout", "Dense"]
    assert head.layers[0].units == 64 and head.layers[3].units == 32
    assert head.layers[0].kernel_regularizer is not None


def test_instagram_pipeline_freezes_given_models_and_feeds_the_wann_their_probabilities():
    image_model = create_model("instagram_image_cnn", image_feature_shape=(20,), hidden_dim=8)
    text_model = create_model("instagram_text_classifier", text_feature_shape=(12,))
    pipeline = create_model("instagram_wann", image_model=image_model, text_model=text_model)
    assert pipeline.get_layer(image_model.name).trainable is False
    inputs = random_inputs(pipeline, batch_size=5)
    inputs["text_present"] = np.array([1, 1, 0, 1, 1], "float32")
    out = {k: np.asarray(v) for k, v in pipeline(inputs).items()}
    p_img = np.asarray(image_model({k: inputs[k] for k in image_model.input}))
    p_txt = np.array(text_model({k: inputs[k] for k in text_model.input}))
    p_txt[2] = 1.0 / 3  # absent caption: uniform, no evidence
    expected = np.asarray(pipeline.get_layer("wann")(np.concatenate([p_img, p_txt], axis=1)))
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-6)


def test_mvsa_mha_fusion_attends_over_the_image_map_tokens():
    """The text token attends over the spatial map's positions: real attention weights, not a constant 1."""
    model = create_model("mvsa_mha_fusion", **SEQUENCE_FEATURES, **SMALL["mvsa_mha_fusion"])
    inputs = random_inputs(model, batch_size=2)
    query = keras.Model(model.input, [model.get_layer("text_token").output, model.get_layer("image_presence").output])
    t, i = query(inputs)
    assert tuple(i.shape) == (2, 9, 16)  # 9 positions, projected to image_projection_dim
    attention = model.get_layer("attention").attention
    _, scores = attention(t, i, return_attention_scores=True)
    scores = np.asarray(scores)
    assert scores.shape[-1] == 9 and np.allclose(scores.sum(-1), 1.0, atol=1e-5) and scores.max() < 1.0
