import numpy as np

from mmsa_keras.layers import ClassifierHead, MaskedPooling, PresenceMask
from tests.helpers import assert_layer_round_trip


def test_masked_mean_and_max_pooling():
    x = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3) - 10
    mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], "int32")
    mean = np.asarray(assert_layer_round_trip(MaskedPooling("mean"), (x,), mask=mask))
    np.testing.assert_allclose(mean[0], x[0, :2].mean(axis=0))
    np.testing.assert_array_equal(mean[1], 0.0)  # no valid token: zero, not NaN
    mx = np.asarray(MaskedPooling("max")(x, mask=mask))
    np.testing.assert_allclose(mx[0], x[0, :2].max(axis=0))  # ignores larger padded values
    np.testing.assert_array_equal(mx[1], 0.0)


def test_presence_mask_zeroes_absent_rows():
    x = np.ones((3, 2, 4), "float32")
    out = np.asarray(assert_layer_round_trip(PresenceMask(), ([x, np.array([1.0, 0.0, 1.0], "float32")],)))
    assert out[1].sum() == 0 and out[0].sum() == 8


def test_classifier_head_outputs_float32_probabilities():
    import keras

    head = ClassifierHead(num_classes=4, hidden_dim=8, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    probs = np.asarray(assert_layer_round_trip(head, (x,)))
    assert probs.shape == (5, 4)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_float16")
    mixed = ClassifierHead(num_classes=2)
    out = mixed(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert mixed.hidden.compute_dtype == "float16"  # the body runs in half precision
