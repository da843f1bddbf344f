"""The in-graph TF-IDF + logistic-regression classifier and the ensemble that carries it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmsa_keras.custom_objects import load_model
from mmsa_keras.layers.tfidf_classifier import BlendProbabilities, TfidfClassifier
from mmsa_keras.models.tfidf_ensemble import fit_tfidf_classifier, with_tfidf

TEXTS = [
    "I love this #happy day",
    "so sad and angry today",
    "a bus stops at the station",
    "love love it, best day",
    "hate it, awful and sad",
    "the station opens at nine",
    "Café crème, j'adore ça",
    "",
] * 6
LABELS = [2, 0, 1, 2, 0, 1, 2, 1] * 6


def test_tokens_keep_tags_mentions_and_any_script():
    layer = TfidfClassifier(["x"], 3)
    grams = [g.decode() for g in layer.tokens(tf.constant(["Hello @Bob, it's #Great!! Café 123"])).to_list()[0]]
    assert grams[:6] == ["hello", "@bob", "it's", "#great", "café", "123"]
    assert "hello @bob" in grams and "café 123" in grams and len(grams) == 11


def test_the_layer_gives_scikit_learns_probabilities():
    """Same vocabulary, idf and L2 norm as scikit-learn's TfidfVectorizer (smooth idf) over the layer's own
    n-grams, and the same probabilities as the fitted LogisticRegression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    layer, info = fit_tfidf_classifier(TEXTS, LABELS, 3, min_df=2)
    assert info["posts"] == len(TEXTS) and info["vocabulary"] == len(layer.vocabulary)
    grams = [[g.decode() for g in row] for row in layer.tokens(tf.constant(TEXTS)).to_list()]
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, vocabulary=layer.vocabulary)
    x = vectorizer.fit_transform(grams)
    np.testing.assert_allclose(layer.idf.numpy(), vectorizer.idf_, rtol=1e-5)
    np.testing.assert_allclose(layer.features(tf.constant(TEXTS)).numpy(), x.toarray(), atol=1e-6)
    reference = LogisticRegression(C=info["C"], max_iter=2000).fit(x, LABELS)
    new = ["love this day", "awful and sad", "at the station", "unseen words only", ""]
    want = reference.predict_proba(vectorizer.transform([[g.decode() for g in r] for r in layer.tokens(new).to_list()]))
    np.testing.assert_allclose(layer(tf.constant(new)).numpy(), want, atol=1e-5)


def test_a_class_missing_from_training_is_never_predicted():
    layer, _ = fit_tfidf_classifier(TEXTS[:2] * 6, LABELS[:2] * 6, 3, min_df=1)  # only classes 2 and 0
    probs = layer(tf.constant(["love", "sad", "station"])).numpy()
    assert probs.shape == (3, 3) and (probs[:, 1] < 1e-6).all() and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_the_ensemble_blends_saves_and_loads_in_safe_mode(tmp_path):
    x = keras.Input((2,), name="x")
    model = keras.Model({"x": x}, keras.layers.Dense(3, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # a trained model carries its optimizer
    model.fit({"x": np.ones((4, 2))}, np.zeros(4), verbose=0)
    layer, _ = fit_tfidf_classifier(TEXTS, LABELS, 3)
    ensemble = with_tfidf(model, layer, 0.3)
    inputs = {"x": tf.ones((3, 2)), "text": tf.constant(["love it", "sad", ""])}
    want = 0.7 * model({"x": inputs["x"]}).numpy() + 0.3 * layer(inputs["text"]).numpy()
    np.testing.assert_allclose(ensemble(inputs).numpy(), want, atol=1e-6)
    ensemble.save(tmp_path / "e.keras")
    again = load_model(str(tmp_path / "e.keras"))  # safe_mode=True: no lambda, no pickle
    np.testing.assert_allclose(again(inputs).numpy(), want, atol=1e-6)
    assert set(again.input) == {"x", "text"}


def test_blend_weight_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="weight"):
        BlendProbabilities(1.5)
