"""A TF-IDF + logistic-regression caption classifier as a Keras layer, and the probability blend.

`TfidfClassifier` turns raw caption strings `[B]` into class probabilities
`[B, C]` inside the graph, so a model that carries it trains, evaluates,
exports and serves with no Python-side text model (and nothing pickled):

1. lower-case, then words by the pattern `[#@]?[\\p{L}\\p{N}_]+('[\\p{L}\\p{N}_]+)?`
   (hashtags and mentions kept whole, any script), then word n-grams
   (`ngrams`, default 1 and 2) joined by a space;
2. term counts over the layer's vocabulary (unknown n-grams ignored), times
   the inverse document frequency `idf` (scikit-learn's smoothed form,
   `ln((1 + n) / (1 + df)) + 1`), L2-normalised per caption;
3. `softmax(x @ kernel + bias)`.

Its weights are not trained by Keras: `mmsa_keras.models.tfidf_ensemble.fit_tfidf_classifier`
builds the vocabulary with the same tokenisation (`TfidfClassifier.tokens`)
and fits a multinomial logistic regression with scikit-learn, then sets them.

`BlendProbabilities(weight)` returns `(1 - weight) * p_model + weight * p_tfidf`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mmsa_keras.api_export import mmsa_export

WORD_PATTERN = r"[#@]?[\p{L}\p{N}_]+(?:'[\p{L}\p{N}_]+)?"


@mmsa_export("mmsa_keras.layers.TfidfClassifier")
class TfidfClassifier(keras.layers.Layer):
    """Caption strings `[B]` → class probabilities `[B, C]` (see the module docstring).

    Args:
        vocabulary: list of str. The n-grams counted, in the order of the weights' rows.
        num_classes: int.
        ngrams: tuple of int. The n-gram widths. Default (1, 2).
    """

    def __init__(self, vocabulary, num_classes, ngrams=(1, 2), **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.vocabulary = [str(v) for v in vocabulary]
        self.num_classes = int(num_classes)
        self.ngrams = tuple(int(n) for n in ngrams)
        if not self.vocabulary:
            raise ValueError("TfidfClassifier needs a non-empty vocabulary")
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary), tf.range(len(self.vocabulary), dtype=tf.int64)
            ),
            default_value=-1,
        )
        size = len(self.vocabulary)
        self.idf = self.add_weight(shape=(size,), initializer="ones", trainable=False, name="idf")
        self.kernel = self.add_weight(
            shape=(size, self.num_classes), initializer="zeros", trainable=False, name="kernel"
        )
        self.bias = self.add_weight(shape=(self.num_classes,), initializer="zeros", trainable=False, name="bias")

    def tokens(self, texts) -> tf.RaggedTensor:
        """The n-grams of each caption, `[B, None]` strings (the same function fits and serves)."""
        import tensorflow_text as tf_text

        lower = tf.strings.lower(tf.convert_to_tensor(texts, tf.string), encoding="utf-8")
        pieces = tf_text.regex_split(
            lower, delim_regex_pattern=rf"{WORD_PATTERN}|\s+", keep_delim_regex_pattern=WORD_PATTERN
        )
        words = tf.ragged.boolean_mask(pieces, tf.strings.regex_full_match(pieces, WORD_PATTERN))
        grams = [words if n == 1 else tf.strings.ngrams(words, n, separator=" ") for n in self.ngrams]
        return grams[0] if len(grams) == 1 else tf.concat(grams, axis=1)

    def features(self, texts) -> tf.Tensor:
        """L2-normalised TF-IDF vectors `[B, V]`."""
        ids = self.table.lookup(self.tokens(texts))
        ids = tf.ragged.boolean_mask(ids, ids >= 0)
        counts = tf.math.bincount(
            tf.cast(ids, tf.int32), minlength=len(self.vocabulary), maxlength=len(self.vocabulary), axis=-1
        )
        x = tf.cast(counts, tf.float32) * tf.convert_to_tensor(self.idf)
        return tf.ensure_shape(tf.math.l2_normalize(x, axis=-1), (None, len(self.vocabulary)))

    def call(self, texts):
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        logits = tf.matmul(self.features(texts), tf.convert_to_tensor(self.kernel)) + tf.convert_to_tensor(self.bias)
        return tf.ensure_shape(tf.nn.softmax(logits, axis=-1), (None, self.num_classes))  # known after loading

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary=list(self.vocabulary), num_classes=self.num_classes, ngrams=list(self.ngrams))
        return config


@mmsa_export("mmsa_keras.layers.BlendProbabilities")
class BlendProbabilities(keras.layers.Layer):
    """`[p_model, p_other]` → `(1 - weight) * p_model + weight * p_other` (both `[B, C]` distributions)."""

    def __init__(self, weight=0.5, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight must lie in [0, 1], got {weight}")
        self.weight = float(weight)

    def call(self, inputs):
        a, b = (keras.ops.cast(x, "float32") for x in inputs)
        return (1.0 - self.weight) * a + self.weight * b

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(weight=self.weight)
        return config
