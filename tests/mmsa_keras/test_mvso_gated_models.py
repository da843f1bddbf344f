import numpy as np
import pytest

from mmsa_keras.label_vectors import default_label_vectors, load_glove_label_vectors
from mmsa_keras.models.base import class_scores
from mmsa_keras.registry import create_model
from tests.helpers import random_inputs, run_model_test

RAW = dict(
    text_encoder="bilstm",
    text_encoder_config={"vocabulary_size": 30, "sequence_length": 8, "embedding_dim": 6, "units": 4},
    image_encoder="small_cnn",
    image_encoder_config={"image_size": 16, "filters": (4,), "output_dim": 8},
)
FEATURES = dict(text_feature_shape=(12,), image_feature_shape=(20,))
SMALL = {
    "mvso_image_classifier": dict(hidden_units=(16, 8), dropouts=(0.5, 0.2)),
    "mvso_pixel_cnn_classifier": dict(
        hidden_units=(8,), image_encoder="mvso_pixel_cnn", image_encoder_config={"image_size": 8}
    ),
    "mvso_embedding_classifier": dict(hidden_units=(16,), dropouts=(0.5,), loss="mse"),
    "mvso_text_bilstm": {},
    "mvso_concat_linear": {},
    "mvso_gated": dict(compressed_dim=6),
    "mvso_gated_embedding": dict(compressed_dim=6, loss="hinge"),
}


# the raw-pixel CNN row of Table 6 reads pixels by definition: raw mode only
CASES = [
    (n, m)
    for n in sorted(SMALL)
    for m in ("raw", "features")
    if not (n == "mvso_pixel_cnn_classifier" and m == "features")
]


@pytest.mark.parametrize("name,mode", CASES)
def test_build_fit_round_trip_and_missing_modalities(name, mode, tmp_path):
    overrides = {**(RAW if mode == "raw" else FEATURES), "num_classes": 2, **SMALL[name]}
    model = run_model_test(
        lambda: create_model(name, **overrides), tmp_path, num_classes=2, mixed_precision=mode == "raw"
    )
    inputs = random_inputs(model, batch_size=4)
    batch = {k: (np.zeros_like(v) if k.endswith("_present") or k == "padding_mask" else v) for k, v in inputs.items()}
    assert np.all(np.isfinite(np.asarray(class_scores(model(batch)))))


TABLE_8_GATED_ROWS = [
    ("GL1", "GL1", "retained", None),
    ("GL1", "GL1", "retained", 0.3),
    ("GL2", "GL2", "retained", None),
    ("GL2", "GL2", "retained", 0.3),
    ("GL1", "GL2", "compressed", None),
    ("GL2", "GL2", "compressed", None),
    ("GL2", "GL2", "compressed", 0.3),
    ("GL1", "GL2", "compressed", 0.3),
]


@pytest.mark.parametrize("text_gate,image_gate,image_shape,dropout", TABLE_8_GATED_ROWS)
def test_every_gated_row_of_table_8_builds_with_its_gates(text_gate, image_gate, image_shape, dropout):
    model = create_model(
        "mvso_gated",
        text_feature_shape=(600,),
        image_feature_shape=(2048,),
        num_classes=2,
        text_gate=text_gate,
        image_gate=image_gate,
        image_shape=image_shape,
        dropout=dropout,
    )
    assert type(model.get_layer("text_gate")).__name__ == text_gate
    assert type(model.get_layer("image_gate")).__name__ == image_gate
    width = 600 if image_shape == "compressed" else 2048
    assert model.get_layer("image_gate").gate.shape == (width,)
    assert any(layer.name == "dropout" for layer in model.layers) == bool(dropout)


def test_embedding_classifier_predicts_the_nearest_label():
    vectors = default_label_vectors(3)
    np.testing.assert_allclose(vectors @ vectors.T, np.eye(3), atol=1e-6)
    model = create_model(
        "mvso_embedding_classifier", image_feature_shape=(20,), hidden_units=(8,), label_vectors=vectors
    )
    inputs = random_inputs(model, batch_size=16)
    out = {k: np.asarray(v) for k, v in model(inputs).items()}
    e = out["embedding"] / np.linalg.norm(out["embedding"], axis=1, keepdims=True)
    np.testing.assert_array_equal(out["probabilities"].argmax(-1), (e @ vectors.T).argmax(-1))


def test_glove_label_vectors_are_read_from_a_text_file(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2\npositive 1.0 0.5\nnegative -1.0 0.25\n", encoding="utf-8")
    vectors = load_glove_label_vectors(str(path), ("negative", "positive"))
    np.testing.assert_allclose(vectors, [[-1.0, 0.25], [1.0, 0.5]])
    with pytest.raises(ValueError, match="neutral"):
        load_glove_label_vectors(str(path), ("negative", "neutral"))
