"""Tokenisers that turn a batch of strings into the text keys of the model inputs.

Both return `{"token_ids": int32 [B, L], "padding_mask": int32 [B, L]}` (and
`segment_ids` for keras-hub BERT-style backbones). An empty string (a post with
no text) gives an all-padding row.

* `VocabularyTokenizer`: `keras.layers.TextVectorization`, adapted on the
  training split, for encoders trained from scratch.
* `HubTokenizer`: a keras-hub tokenizer (WordPiece, BPE, SentencePiece) with its
  start/end/pad tokens, for pretrained keras-hub backbones.
"""

from __future__ import annotations

import json
import os
import shutil

import keras
import tensorflow as tf

#: a link, as a URL or an HTML anchor (Flickr descriptions hold `<a href="..." rel="nofollow">`)
LINK = r"<a\s[^>]*>|https?://\S+|www\.\S+"
#: one punctuation character
PUNCTUATION = r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])"


def keep_punctuation(texts):
    """Lower-case; every link becomes the tokens `href rel`; each punctuation character becomes a token of its own.

    Paper 003 (section 4.2) tokenises "keeping punctuation" and with "href"
    and "rel" tokens standing for the links of Flickr descriptions.
    """
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, LINK, " href rel ")
    texts = tf.strings.regex_replace(texts, "</a>", " ")
    return tf.strings.regex_replace(texts, PUNCTUATION, r" \1 ")


STANDARDIZE = {
    "lower_and_strip_punctuation": "lower_and_strip_punctuation",
    "lower": "lower",
    "keep_punctuation": keep_punctuation,
}


class VocabularyTokenizer:
    """Word-level tokenizer over a vocabulary learned from the training split.

    Args:
        sequence_length: int. Tokens per post (padded/truncated at the end). Default 32.
        max_tokens: int or None. Vocabulary size cap including padding and OOV
            (None: every word of the training split). Default 20000.
        vocabulary: optional list of tokens (without the padding and OOV entries).
        standardize: "lower_and_strip_punctuation" (default), "lower", or
            "keep_punctuation" (paper 003: punctuation as tokens, links as `href rel`).

    Example:
    >>> tok = data_pipelines.tokenization.VocabularyTokenizer(sequence_length=8)
    >>> tok.adapt(["so happy today", "so sad"])
    >>> tok(tf.constant(["happy today"]))["token_ids"].shape
    TensorShape([1, 8])
    """

    kind = "vocabulary"

    def __init__(
        self,
        sequence_length: int = 32,
        max_tokens: int | None = 20000,
        vocabulary=None,
        standardize: str = "lower_and_strip_punctuation",
    ):
        if standardize not in STANDARDIZE:
            raise ValueError(f"standardize must be one of {sorted(STANDARDIZE)}, got {standardize!r}")
        self.sequence_length = int(sequence_length)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.standardize = standardize
        self.layer = keras.layers.TextVectorization(
            max_tokens=self.max_tokens,
            output_mode="int",
            output_sequence_length=self.sequence_length,
            standardize=STANDARDIZE[standardize],
            split="whitespace",
            name="text_vectorization",
        )
        if vocabulary is not None:
            self.layer.set_vocabulary(list(vocabulary))

    def adapt(self, texts) -> None:
        texts = [t or "" for t in texts]
        self.layer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(256))

    @property
    def vocabulary_size(self) -> int:
        return int(self.layer.vocabulary_size())

    def vocabulary(self) -> list[str]:
        # entries 0 and 1 are the padding and OOV tokens, added back by set_vocabulary
        return [t if isinstance(t, str) else t.decode("utf-8") for t in self.layer.get_vocabulary()[2:]]

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        ids = tf.cast(self.layer(texts), tf.int32)
        return {"token_ids": ids, "padding_mask": tf.cast(ids != 0, tf.int32)}

    def trackables(self) -> list:
        if not self.layer.built:
            self.layer(tf.constant([""]))
        return [self.layer]

    def get_config(self) -> dict:
        return {
            "kind": self.kind,
            "sequence_length": self.sequence_length,
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
        }

    def save(self, directory: str) -> None:
        with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump({**self.get_config(), "vocabulary": self.vocabulary()}, f, ensure_ascii=False)


_LOADED_TOKENIZERS: dict = {}


def _tokenizer_from(preset: str):
    """A keras-hub tokenizer from a preset name, a preset / Hugging Face directory, or a folder written
    by `Tokenizer.save_to_preset` (tokenizer.json + assets/, no model config.json).

    Loaded once per process and preset (a folder's path and modification time): a sweep of ten
    heads, or a table's seven rows, reads the 30,000-word vocabulary once, not once per run.
    """
    key = preset
    if os.path.isdir(preset):
        key = (os.path.realpath(preset), os.stat(preset).st_mtime_ns)
    if key not in _LOADED_TOKENIZERS:
        _LOADED_TOKENIZERS[key] = _load_tokenizer(preset)
    return _LOADED_TOKENIZERS[key]


def _load_tokenizer(preset: str):
    import keras_hub

    saved = os.path.join(preset, "tokenizer.json")
    if os.path.isdir(preset) and os.path.exists(saved) and not os.path.exists(os.path.join(preset, "config.json")):
        with open(saved, encoding="utf-8") as f:
            tokenizer = keras.saving.deserialize_keras_object(json.load(f))
        tokenizer.load_preset_assets(preset)
        return tokenizer
    return keras_hub.tokenizers.Tokenizer.from_preset(preset)


class HubTokenizer:
    """A keras-hub tokenizer packed to a fixed length with its special tokens.

    Args:
        tokenizer: a `keras_hub.tokenizers.Tokenizer` (e.g. `BertTokenizer`) or
            a preset name / local preset directory to load one from.
        sequence_length: int. Tokens per post including start/end. Default 128.
        segment_ids: bool. Also return zero `segment_ids` (BERT backbones).
    """

    kind = "keras_hub"

    def __init__(self, tokenizer, sequence_length: int = 128, segment_ids: bool = True):
        import keras_hub

        self.preset = tokenizer if isinstance(tokenizer, str) else None
        if isinstance(tokenizer, str):
            tokenizer = _tokenizer_from(tokenizer)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.with_segment_ids = bool(segment_ids)
        start = getattr(tokenizer, "cls_token_id", None) or getattr(tokenizer, "start_token_id", None)
        end = getattr(tokenizer, "sep_token_id", None) or getattr(tokenizer, "end_token_id", None)
        pad = getattr(tokenizer, "pad_token_id", 0) or 0
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.sequence_length,
            start_value=start,
            end_value=end,
            pad_value=pad,
            return_padding_mask=True,
        )

    @property
    def vocabulary_size(self) -> int:
        return int(self.tokenizer.vocabulary_size())

    def adapt(self, texts) -> None:
        """Pretrained vocabularies are fixed; nothing to learn."""

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        ids, mask = self.packer(self.tokenizer(texts))
        ids = tf.cast(ids, tf.int32)
        # a post with no text keeps only padding, so the model sees it as absent
        empty = tf.strings.length(tf.strings.strip(texts)) == 0
        mask = tf.where(empty[:, None], tf.zeros_like(mask), mask)
        out = {"token_ids": ids, "padding_mask": tf.cast(mask, tf.int32)}
        if self.with_segment_ids:
            out["segment_ids"] = tf.zeros_like(ids)
        return out

    def trackables(self) -> list:
        # keras-hub layers build on their first call; an unbuilt layer cannot be exported
        if not (self.tokenizer.built and self.packer.built):
            self(tf.constant(["x"]))
        return [self.tokenizer, self.packer]

    def get_config(self) -> dict:
        return {
            "kind": self.kind,
            "sequence_length": self.sequence_length,
            "segment_ids": self.with_segment_ids,
            "preset": self.preset,
        }

    def save(self, directory: str) -> None:
        """Write `tokenizer.json` and the tokenizer's own assets (`tokenizer_preset/`), so the
        run directory or export does not depend on where the preset came from."""
        config = self.get_config()
        target = os.path.join(directory, "tokenizer_preset")
        if not (self.preset and os.path.abspath(self.preset) == os.path.abspath(target)):
            if os.path.isdir(target):
                shutil.rmtree(target)
            self.tokenizer.save_to_preset(target)
        config["source_preset"] = self.preset
        config["preset"] = "tokenizer_preset"
        with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)


def load_tokenizer(directory: str):
    """Rebuild the tokenizer saved by `save(directory)`."""
    with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
        config = json.load(f)
    kind = config.pop("kind")
    if kind == "vocabulary":
        return VocabularyTokenizer(**config)
    if kind == "keras_hub":
        config.pop("source_preset", None)
        preset = config.pop("preset")
        if not os.path.isabs(preset) and os.path.exists(os.path.join(directory, preset)):
            preset = os.path.join(directory, preset)
        return HubTokenizer(preset, **config)
    raise ValueError(f"{directory}/tokenizer.json: unknown tokenizer kind {kind!r}")
