"""English lemmatisation inside the TensorFlow graph (paper 000, section 3.2).

Paper 000 lemmatises every token of the tweets its caption model and its
TF-IDF + SVM baseline learn from. To keep training, evaluation and the exported
model on the same text, `Lemmatiser` is a Keras layer: the captions are
lower-cased, split into words (`#tags` and `@mentions` kept whole) and other
characters, each word is looked up in simplemma's English lemma dictionary
(181k entries, shipped inside the simplemma package; nothing is downloaded),
held as a `tf.lookup.StaticHashTable`, and the pieces are joined with spaces.
Words the dictionary lacks are kept as they are (simplemma's rule-based
fall-back for unknown words is not applied in the graph: the one difference
from `mmsa_keras.baselines.lemmatise`, stated in the row's departures).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from simplemma.strategies.dictionaries import DefaultDictionaryFactory

WORD = r"[#@]?\w+(?:'\w+)?"


def english_lemmas() -> dict[str, str]:
    """simplemma's English dictionary, keyed by lower-cased word."""
    table = DefaultDictionaryFactory().get_dictionary("en")
    out: dict[str, str] = {}
    for word, lemma in table.items():
        lemma = lemma.decode("utf-8") if isinstance(lemma, bytes) else str(lemma)
        key = word.lower()
        if key not in out or word == key:
            out[key] = lemma.lower()
    return out


class Lemmatiser(keras.layers.Layer):
    """Strings `[B]` → lemmatised strings `[B]` (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(trainable=False, **kwargs)
        lemmas = english_lemmas()
        keys = tf.constant(list(lemmas.keys()))
        values = tf.constant(list(lemmas.values()))
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value="")

    def call(self, texts):
        import tensorflow_text as tf_text

        lower = tf.strings.lower(texts, encoding="utf-8")
        pieces = tf_text.regex_split(lower, delim_regex_pattern=rf"{WORD}|\s+", keep_delim_regex_pattern=WORD)
        flat = pieces.flat_values
        found = self.table.lookup(flat)
        flat = tf.where(tf.strings.length(found) > 0, found, flat)
        return tf.strings.reduce_join(pieces.with_flat_values(flat), axis=-1, separator=" ")

    def get_config(self):
        return super().get_config()


def make_text_transform(name: str | None):
    if name is None:
        return None
    if name == "lemmatise":
        return Lemmatiser(name="lemmatiser")
    raise ValueError(f"unknown text transform {name!r} (known: lemmatise)")
