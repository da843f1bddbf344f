"""A trained model ensembled with a TF-IDF caption classifier (the `mvsa` recipe's `tfidf_weight`).

After a run's model is trained, `fit_tfidf_classifier` fits a
`layers.TfidfClassifier` on the same training posts (vocabulary: the n-grams of
at least `min_df` training captions, at most `max_vocabulary` by document
frequency; multinomial logistic regression, its C chosen by a stratified 5-fold
grid search on those posts by log-loss), and `with_tfidf` wraps the model so
that its output is `(1 - w) * p_model + w * p_tfidf`. The wrapper takes one more
input, `text` (the raw caption string, which `Preprocessor` gives every model
that asks for it), and is an ordinary Keras model: saved, evaluated, exported
and served as the run's model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from mmsa_keras.layers.tfidf_classifier import BlendProbabilities, TfidfClassifier
from mmsa_keras.models.base import class_scores

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


def fit_tfidf_classifier(
    texts, labels, num_classes: int, seed: int = 0, min_df: int = 2, max_vocabulary: int = 20000, ngrams=(1, 2)
):
    """A fitted `TfidfClassifier` and the C its grid search chose: `(layer, info)`."""
    texts = ["" if t is None else str(t) for t in texts]
    labels = np.asarray(labels, np.int64)
    probe = TfidfClassifier(["<probe>"], num_classes, ngrams=ngrams)
    docs = [
        [g.decode("utf-8") for g in row]
        for i in range(0, len(texts), 1024)
        for row in probe.tokens(tf.constant(texts[i : i + 1024])).to_list()
    ]
    df: dict[str, int] = {}
    for doc in docs:
        for g in set(doc):
            df[g] = df.get(g, 0) + 1
    kept = sorted((g for g, n in df.items() if n >= min_df), key=lambda g: (-df[g], g))[:max_vocabulary]
    if not kept:
        kept = sorted(df, key=lambda g: (-df[g], g))[:max_vocabulary] or ["<empty>"]
    index = {g: i for i, g in enumerate(kept)}
    idf = np.log((1 + len(docs)) / (1 + np.array([df.get(g, 0) for g in kept], np.float64))) + 1.0
    rows, cols, vals = [], [], []
    for r, doc in enumerate(docs):
        counts: dict[int, int] = {}
        for g in doc:
            if g in index:
                counts[index[g]] = counts.get(index[g], 0) + 1
        for c, n in counts.items():
            rows.append(r)
            cols.append(c)
            vals.append(n * idf[c])
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(kept)), dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ x
    folds = int(min(5, np.bincount(labels, minlength=num_classes)[np.unique(labels)].min()))
    search = GridSearchCV(
        LogisticRegression(max_iter=2000),
        {"C": list(C_GRID)},
        cv=StratifiedKFold(max(2, folds), shuffle=True, random_state=seed),
        scoring="neg_log_loss",
    )
    search.fit(x, labels)
    best = search.best_estimator_
    kernel = np.zeros((len(kept), num_classes), np.float32)
    bias = np.full((num_classes,), -30.0, np.float32)  # a class absent from the training posts is never predicted
    for j, c in enumerate(best.classes_):
        kernel[:, c] = best.coef_[j] if len(best.classes_) > 2 else (best.coef_[0] if j == 1 else 0.0)
        bias[c] = best.intercept_[j] if len(best.classes_) > 2 else (best.intercept_[0] if j == 1 else 0.0)
    layer = TfidfClassifier(kept, num_classes, ngrams=ngrams, name="tfidf_classifier")
    layer.idf.assign(idf.astype(np.float32))
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    return layer, {"C": float(search.best_params_["C"]), "vocabulary": len(kept), "posts": len(texts)}


def with_tfidf(model, tfidf_layer, weight: float):
    """`model` (dict inputs) ensembled with `tfidf_layer` over the extra string input `text`.

    The ensemble is for inference: `model`'s optimizer state is dropped (it would otherwise be saved inside
    the ensemble's file and fail to match on loading)."""
    model.optimizer = None
    model.compiled = False
    inputs = {name: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=name) for name, t in dict(model.input).items()}
    text = keras.Input(shape=(), dtype="string", name="text")
    blended = BlendProbabilities(weight, name="tfidf_blend")([class_scores(model(inputs)), tfidf_layer(text)])
    return keras.Model({**inputs, "text": text}, blended, name=f"{model.name}_tfidf")
