import keras
import numpy as np
import pytest

from mmsa_keras.models.base import class_scores
from mmsa_keras.registry import create_model
from tests.helpers import assert_model_round_trip, assert_one_fit_step, random_inputs

RAW = dict(
    text_encoder="small_transformer",
    text_encoder_config={"vocabulary_size": 30, "sequence_length": 8, "hidden_dim": 8, "intermediate_dim": 8},
    image_encoder="small_cnn",
    image_encoder_config={"image_size": 16, "filters": (4,), "output_dim": 8},
)
FEATURES = dict(text_feature_shape=(12,), image_feature_shape=(20,))
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
    model = create_model(name, **(RAW if mode == "raw" else FEATURES), **SMALL.get(name, {}))
    inputs = random_inputs(model, batch_size=4)
    assert np.asarray(class_scores(model(inputs))).shape == (4, 3)
    assert_one_fit_step(model, inputs)
    assert_model_round_trip(model, inputs, tmp_path)
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
