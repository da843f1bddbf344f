import numpy as np
import pytest

from mmsa_keras.models.base import class_scores
from mmsa_keras.registry import create_model
from tests.helpers import random_inputs, run_model_test

TINY = dict(
    text_encoder="bag_of_embeddings",
    text_encoder_config={
        "vocabulary_size": 30,
        "sequence_length": 8,
        "hidden_dim": 12,
        "pooling": "max",
        "dropout": 0.25,
    },
    image_encoder="small_cnn",
    image_encoder_config={"image_size": 16, "filters": (4, 8), "output_dim": 8},
    num_classes=4,
)
FEATURES = dict(text_feature_shape=(12,), image_feature_shape=(20,), num_classes=4)
NAMES = [
    "joint_fusion_text_only",
    "joint_fusion_image_only",
    "early_fusion",
    "late_fusion",
    "joint_fusion",
    "common_space_fusion",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["raw", "features"])
def test_build_fit_round_trip_and_missing_modalities(name, mode, tmp_path):
    overrides = dict(TINY if mode == "raw" else FEATURES, hidden_dim=6)
    if name == "joint_fusion_image_only":
        overrides["hidden_dim"] = None
    model = run_model_test(
        lambda: create_model(name, **overrides), tmp_path, batch_size=6, num_classes=4, mixed_precision=mode == "raw"
    )
    inputs = random_inputs(model, batch_size=6)
    for absent in ({"image_present": 0.0}, {"text_present": 0.0}, {"image_present": 0.0, "text_present": 0.0}):
        batch = dict(inputs)
        for key, value in absent.items():
            if key in batch:
                batch[key] = np.full_like(batch[key], value)
        out = np.asarray(class_scores(model(batch)))
        assert np.all(np.isfinite(out)) and np.allclose(out.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["joint_fusion", "common_space_fusion"])
def test_joint_fusion_with_text_absent_classifies_from_the_image_alone(name):
    model = create_model(name, **FEATURES, hidden_dim=6)
    inputs = random_inputs(model, batch_size=3)
    inputs["text_present"] = np.zeros(3, "float32")
    changed = dict(inputs, text_features=inputs["text_features"] * 7 - 2)
    np.testing.assert_allclose(
        np.asarray(class_scores(model(inputs))), np.asarray(class_scores(model(changed))), atol=1e-6
    )


def test_late_fusion_predicts_the_argmax_of_the_product():
    model = create_model("late_fusion", **FEATURES, hidden_dim=6)
    inputs = random_inputs(model, batch_size=32, seed=3)
    out = {k: np.asarray(v) for k, v in model(inputs).items()}
    product = out["text_probabilities"] * out["image_probabilities"]
    np.testing.assert_array_equal(out["probabilities"].argmax(-1), product.argmax(-1))
    assert set(model.training_objective()["loss"]) == {"text_probabilities", "image_probabilities"}


def test_common_space_fusion_adds_the_auxiliary_loss():
    model = create_model("common_space_fusion", **FEATURES, hidden_dim=6, num_negatives=2, classification_weight=3.0)
    objective = model.training_objective()
    assert objective["loss_weights"] == {"probabilities": 3.0, "common_space": 1.0}
    inputs = random_inputs(model, batch_size=8)
    labels = np.arange(8) % 4
    model.compile(optimizer="sgd", **objective)
    logs = model.evaluate(inputs, {"probabilities": labels, "common_space": labels}, verbose=0, return_dict=True)
    ce = float(np.mean(-np.log(np.asarray(model(inputs)["probabilities"])[np.arange(8), labels])))
    assert logs["loss"] > 3.0 * ce  # λ·CE plus a positive auxiliary term
