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


def test_fused_batch_norm_trains_like_keras_batch_norm_and_replaces_it_in_place(tmp_path):
    import keras
    import tensorflow as tf

    from data_pipelines.features import architecture_fingerprint
    from mmsa_keras.layers import FusedBatchNormalization, fuse_batch_norm

    rng = np.random.default_rng(0)
    for shape, kwargs in [((6, 5, 5, 8), {}), ((3, 2, 2, 4), {"scale": False, "axis": 3}), ((1, 1, 1, 5), {})]:
        x = tf.constant(rng.normal(3.0, 2.0, size=shape).astype("float32"))
        plain, fused = (
            keras.layers.BatchNormalization(momentum=0.8, **kwargs),
            FusedBatchNormalization(momentum=0.8, **kwargs),
        )
        plain.build(shape)
        fused.build(shape)
        weights = [w + np.abs(rng.normal(size=w.shape)).astype("float32") for w in plain.get_weights()]
        plain.set_weights(weights)
        fused.set_weights(weights)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            outs = [layer(x, training=True) for layer in (plain, fused)]
            losses = [tf.reduce_sum(y * tf.sin(x)) for y in outs]
        np.testing.assert_allclose(outs[1], outs[0], atol=2e-5)
        for layer, loss in zip((plain, fused), losses):
            layer.grads = tape.gradient(loss, [x, *layer.trainable_weights])
        for a, b in zip(plain.grads, fused.grads):
            np.testing.assert_allclose(b, a, atol=5e-5)
        for a, b in zip(plain.get_weights(), fused.get_weights()):  # moving mean and (biased) variance included
            np.testing.assert_allclose(b, a, atol=2e-6)
        np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=2e-5)
    # mixed precision: float16 in and out, statistics in float32, as Keras' layer
    half = tf.constant(rng.normal(2.0, 3.0, size=(4, 5, 5, 6)).astype("float16"))
    plain16, fused16 = (
        cls(dtype="mixed_float16") for cls in (keras.layers.BatchNormalization, FusedBatchNormalization)
    )
    y_plain, y_fused = plain16(half, training=True), fused16(half, training=True)
    assert y_fused.dtype == y_plain.dtype == tf.float16
    np.testing.assert_allclose(np.asarray(y_fused, "float32"), np.asarray(y_plain, "float32"), atol=2e-3)
    for a, b in zip(plain16.get_weights(), fused16.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5)
    # the fused graph really is the fused kernel (not the fallback)
    graph = tf.function(lambda t: fused(t, training=True)).get_concrete_function(tf.TensorSpec((None, 4, 4, 5))).graph
    assert any(op.type == "FusedBatchNormV3" for op in graph.get_operations())

    # in place, in a nested model: the class changes, the weights and outputs do not
    def nested():
        inner = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization()])
        return inner, keras.Sequential([keras.Input((4, 4, 3)), inner, keras.layers.BatchNormalization()])

    inner, outer = nested()
    images = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    before = np.asarray(outer(images, training=False))
    fingerprint = architecture_fingerprint(outer)
    assert fuse_batch_norm(outer) == 2 and fuse_batch_norm(outer) == 0
    assert architecture_fingerprint(outer) == fingerprint  # stored features stay valid
    assert isinstance(inner.layers[-1], FusedBatchNormalization)
    np.testing.assert_allclose(outer(images, training=False), before)
    # weights files are interchangeable with Keras' own layer, both ways; a .keras file keeps the fused class
    outer.save_weights(tmp_path / "fused.weights.h5")
    _, plain = nested()
    plain.load_weights(tmp_path / "fused.weights.h5")
    np.testing.assert_allclose(plain(images, training=False), before, atol=1e-6)
    plain.save_weights(tmp_path / "plain.weights.h5")
    _, refused = nested()
    fuse_batch_norm(refused)
    refused.load_weights(tmp_path / "plain.weights.h5")
    np.testing.assert_allclose(refused(images, training=False), before, atol=1e-6)
    outer.save(tmp_path / "fused.keras")
    loaded = keras.saving.load_model(tmp_path / "fused.keras")
    assert isinstance(loaded.layers[0].layers[-1], FusedBatchNormalization)
    np.testing.assert_allclose(loaded(images, training=False), before, atol=1e-6)
    assert_layer_round_trip(FusedBatchNormalization(), (images,))
