import keras
import numpy as np
import pytest

from mmsa_keras.layers import GL1, GL2, CrossModalAttention, ModalityPooling, NearestLabel, ProbabilityFusion
from mmsa_keras.losses import CommonSpaceLoss, LabelEmbeddingLoss, pack_common_space
from tests.helpers import assert_layer_round_trip


def _train_gate(layer_cls, lr=1.0, steps=5):
    x = keras.Input((6,))
    model = keras.Model(x, keras.layers.Dense(1)(layer_cls(name="gate")(x)))
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")  # steps of about lr per weight
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 6)).astype("float32") * 2
    y = rng.normal(size=(32, 1)).astype("float32") * 10
    model.fit(X, y, epochs=steps, batch_size=8, verbose=0)
    return np.asarray(model.get_layer("gate").gate)


def test_gl2_weights_stay_in_unit_interval_gl1_leave_it():
    gl2 = _train_gate(GL2)
    assert np.all(np.isfinite(gl2)) and gl2.min() >= 0.0 and gl2.max() <= 1.0
    assert np.any((gl2 > 0.0) & (gl2 < 1.0)) or np.any(gl2 == 0.0)  # it did move
    gl1 = _train_gate(GL1)
    assert np.all(np.isfinite(gl1))
    assert gl1.min() < 0.0 or gl1.max() > 1.0


def test_gates_round_trip_and_multiply_elementwise():
    x = np.arange(12, dtype="float32").reshape(3, 4)
    for cls in (GL1, GL2):
        layer = cls()
        out = np.asarray(assert_layer_round_trip(layer, (x,)))
        np.testing.assert_allclose(out, x)  # identity at initialisation
        layer.gate.assign(np.array([0.0, 0.5, 1.0, 0.25], "float32"))
        np.testing.assert_allclose(np.asarray(layer(x)), x * [0.0, 0.5, 1.0, 0.25])


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling_with_text_absent_returns_the_image_vector(mode):
    rng = np.random.default_rng(1)
    image, text = rng.normal(size=(4, 5)).astype("float32"), rng.normal(size=(4, 5)).astype("float32")
    present_i = np.array([1, 1, 0, 0], "float32")
    present_t = np.array([1, 0, 1, 0], "float32")
    out = np.asarray(assert_layer_round_trip(ModalityPooling(mode), ([image, text],), presence=[present_i, present_t]))
    both = np.maximum(image[0], text[0]) if mode == "max" else (image[0] + text[0]) / 2
    np.testing.assert_allclose(out[0], both, rtol=1e-6)
    np.testing.assert_array_equal(out[1], image[1])  # text absent: exactly the image vector
    np.testing.assert_array_equal(out[2], text[2])
    np.testing.assert_array_equal(out[3], 0.0)  # nothing present


def test_late_fusion_product_has_the_argmax_of_the_product():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(4), size=(2, 50)).astype("float32")
    out = np.asarray(ProbabilityFusion("product")([p[0], p[1]]))
    np.testing.assert_array_equal(out.argmax(-1), (p[0] * p[1]).argmax(-1))
    np.testing.assert_allclose(out, p[0] * p[1] / (p[0] * p[1]).sum(-1, keepdims=True), rtol=1e-4)
    absent = np.asarray(ProbabilityFusion("product")([p[0], p[1]], presence=[np.ones(50), np.zeros(50)]))
    np.testing.assert_allclose(absent, p[0], rtol=1e-4)


def test_logit_sum_from_logits_keeps_gradient_when_a_head_saturates():
    """The CMAC collapse on random ResNet-50 features: a head whose softmax underflows to exactly 0/1.

    Through `log(max(p, 1e-12))` the fused output stops depending on the
    saturated logits (zero gradient: training stalls on one class); from the
    logits, the fusion is softmax(z_text + z_image) and every logit gets gradient.
    """
    import tensorflow as tf

    z_text = tf.Variable([[200.0, 0.0, 0.0]])  # softmax == [1, 0, 0] exactly in float32
    z_image = tf.Variable([[0.0, 1.0, 3.0]])
    label = tf.constant([2])
    for from_logits, expect_gradient in ((False, False), (True, True)):
        with tf.GradientTape() as tape:
            heads = [z_text, z_image] if from_logits else [tf.nn.softmax(z_text), tf.nn.softmax(z_image)]
            fused = ProbabilityFusion("logit_sum", from_logits=from_logits)(heads)
            loss = tf.keras.losses.sparse_categorical_crossentropy(label, fused)
        grad = tape.gradient(loss, z_text)
        assert (grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0.1) == expect_gradient
    fused = np.asarray(ProbabilityFusion("logit_sum", from_logits=True)([z_text, z_image]))
    np.testing.assert_allclose(fused, tf.nn.softmax(z_text + z_image).numpy(), rtol=1e-5)


def test_nearest_label_picks_the_label_of_highest_cosine():
    rng = np.random.default_rng(3)
    labels = rng.normal(size=(3, 50)).astype("float32")
    x = rng.normal(size=(20, 50)).astype("float32")
    x[:3] = labels * np.array([[2.0], [0.5], [7.0]], "float32")  # scaled copies: cosine 1
    scores = np.asarray(assert_layer_round_trip(NearestLabel(labels), (x,)))
    cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (labels / np.linalg.norm(labels, axis=1, keepdims=True)).T
    np.testing.assert_allclose(scores, cos, rtol=1e-5, atol=1e-6)
    assert scores[:3].argmax(-1).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(scores.argmax(-1), cos.argmax(-1))


def test_cross_modal_attention_masks_absent_keys():
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(2, 3, 8)).astype("float32"), rng.normal(size=(2, 5, 8)).astype("float32")
    layer = CrossModalAttention(num_heads=2, key_dim=4)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], "int32")
    out = np.asarray(assert_layer_round_trip(layer, (q, k), key_mask=mask))
    k2 = k.copy()
    k2[0, 2:] = 100.0  # padded keys of post 0 must not matter
    np.testing.assert_allclose(np.asarray(layer(q, k2, key_mask=mask))[0], out[0], atol=1e-5)
    absent = np.asarray(layer(q, k, key_mask=mask, key_present=np.array([0.0, 1.0], "float32")))
    np.testing.assert_array_equal(absent[0], 0.0)


def _common_space_reference(image, text, labels, both):
    """NumPy equation 14 with every eligible other-class post as a negative."""
    total, anchors = 0.0, 0
    for i in range(len(labels)):
        if not both[i]:
            continue
        negatives = [j for j in range(len(labels)) if labels[j] != labels[i] and both[j]]
        if not negatives:
            continue
        d_pos = np.linalg.norm(image[i] - text[i])
        for j in negatives:
            d_neg = np.linalg.norm(image[i] - text[j])
            total += -np.log(np.exp(-d_pos) / (np.exp(-d_pos) + np.exp(-d_neg)))
        anchors += 1
    return total / anchors


def test_common_space_loss_matches_a_numpy_reference():
    # 6 posts, classes [0, 0, 1, 1, 2, 2], post 5 has no text, so it is neither an
    # anchor nor a negative: anchors 0-3 have 3 eligible negatives, anchor 4 has 4,
    # and g = 4 takes all of them.
    rng = np.random.default_rng(5)
    image = rng.normal(size=(6, 4)).astype("float32")
    text = rng.normal(size=(6, 4)).astype("float32")
    labels = np.array([0, 0, 1, 1, 2, 2])
    image_present = np.ones(6, "float32")
    text_present = np.array([1, 1, 1, 1, 1, 0], "float32")
    packed = np.asarray(pack_common_space(image, text, image_present, text_present))
    both = image_present * text_present
    expected = _common_space_reference(image, text, labels, both)
    got = float(CommonSpaceLoss(num_negatives=4, seed=0)(labels, packed))
    assert got == pytest.approx(expected, rel=1e-5)
    # with g = 1 a random negative is chosen: the loss lies between the per-negative extremes
    one = float(CommonSpaceLoss(num_negatives=1, seed=0)(labels, packed))
    assert 0.0 < one < expected


def test_label_embedding_losses():
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")
    pred = np.array([[2.0, 0.0, 0.0], [0.0, 0.5, 0.5]], "float32")
    y = np.array([0, 1])
    cos = float(LabelEmbeddingLoss(vectors, "cosine")(y, pred))
    assert cos == pytest.approx(-(1.0 + 0.5 / np.sqrt(0.5)) / 2, rel=1e-5)
    mse = float(LabelEmbeddingLoss(vectors, "mse")(y, pred))
    assert mse == pytest.approx(((1.0 + 0 + 0) / 3 + (0 + 0.25 + 0.25) / 3) / 2, rel=1e-5)
    hinge = float(LabelEmbeddingLoss(vectors, "hinge")(y, pred))
    expected = np.mean([np.mean(np.maximum(1 - vectors[k] * pred[k], 0)) for k in range(2)])
    assert hinge == pytest.approx(expected, rel=1e-5)
    restored = LabelEmbeddingLoss.from_config(LabelEmbeddingLoss(vectors, "mse").get_config())
    assert float(restored(y, pred)) == pytest.approx(mse)
