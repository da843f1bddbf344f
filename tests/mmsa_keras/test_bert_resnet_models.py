import numpy as np
import pytest

from mmsa_keras.registry import create_model, list_models
from tests.helpers import assert_model_round_trip, assert_one_fit_step, random_inputs

TINY = dict(text_encoder="small_transformer",
            text_encoder_config={"vocabulary_size": 30, "sequence_length": 8, "hidden_dim": 16,
                                 "intermediate_dim": 16},
            image_encoder="small_cnn",
            image_encoder_config={"image_size": 16, "filters": (4, 8), "output_dim": 8},
            hidden_dim=8, head_hidden_dim=8)
FEATURES = dict(text_feature_shape=(12,), image_feature_shape=(6, 10), hidden_dim=8, head_hidden_dim=8)
NAMES = ["native_cat", "bert_resnet_text_only", "bert_resnet_image_only"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["raw", "features"])
def test_build_fit_round_trip_and_missing_modalities(name, mode, tmp_path):
    model = create_model(name, **(TINY if mode == "raw" else FEATURES))
    inputs = random_inputs(model, batch_size=4)
    probs = np.asarray(model(inputs))
    assert probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert_one_fit_step(model, inputs)
    assert_model_round_trip(model, inputs, tmp_path)
    for absent in ({"image_present": 0.0}, {"text_present": 0.0},
                   {"image_present": 0.0, "text_present": 0.0}):
        batch = dict(inputs)
        for key, value in absent.items():
            if key in batch:
                batch[key] = np.full_like(batch[key], value)
                if key == "text_present" and "padding_mask" in batch:
                    batch["padding_mask"] = np.zeros_like(batch["padding_mask"])
        out = np.asarray(model(batch))
        assert np.all(np.isfinite(out))


def test_native_cat_ignores_the_content_of_an_absent_image():
    model = create_model("native_cat", **TINY)
    inputs = random_inputs(model, batch_size=2)
    inputs["image_present"] = np.zeros(2, "float32")
    other = dict(inputs, images=inputs["images"] * 5 + 3)
    np.testing.assert_allclose(np.asarray(model(inputs)), np.asarray(model(other)), atol=1e-6)


def test_registry_lists_models_with_paper_and_table():
    specs = {s.name: s for s in list_models()}
    assert {"native_cat", "bert_resnet_text_only", "bert_resnet_image_only"} <= set(specs)
    assert specs["native_cat"].paper == "002"
    with pytest.raises(ValueError, match="unknown model"):
        create_model("no_such_model")
