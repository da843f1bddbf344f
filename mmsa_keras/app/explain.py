"""Per-post explanations: which words and which parts of the picture moved the prediction.

`mmsa explain MODEL (--text T [--image F] | --csv posts.csv) [--out DIR]` takes a
training run or an export and writes, per post, one PNG (the caption's token
attributions, the image's heat map over the picture, the modality
contributions) and `index.html` over them, with every number in
`explanations.json`. Three views of one prediction, each for the predicted
class (the calibrated probability the model returns):

* **Token attributions.** *Integrated gradients* (Sundararajan et al., 2017)
  on the token embeddings, where the model has a differentiable token
  embedding and reads nothing else of the caption: the embedding output is
  scaled from zero (the baseline) to itself in `steps` midpoint steps, and
  each token's attribution is its embedding times the mean gradient, summed
  over the embedding dimension; the attributions sum to p(x) - p(baseline) up
  to the Riemann error (`completeness_gap` in the JSON). *Word occlusion*
  where it has none or also reads the raw caption (the TF-IDF blend of the
  `mvsa` recipe): a word's attribution is the drop in probability when that
  word is removed from the caption. `--method` forces one. Which families
  get which is in `docs/ARCHITECTURE.md` §10.
* **Image heat map.** Occlusion for every family: the image (as the model
  sees it, resized and normalised) is cut in a `grid` x `grid` grid; each
  cell is filled with the image's mean colour in turn, and the cell's value is
  the drop in probability. Positive (red): the cell supported the prediction.
* **Modality contributions.** The probabilities with the caption only (no
  image), the image only (no caption) and both, through the model's own
  missing-modality path.

`deletion_check` measures whether the token attributions mean something:
deleting the k tokens with the largest attribution should lower the
predicted class's probability more than deleting k random tokens of the same
post (for integrated gradients a token is deleted by setting its embedding to
the baseline, for occlusion by removing the word).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from data_pipelines.pipeline import Preprocessor
from mmsa_keras.app.runs import RUN_CONFIG, Run
from mmsa_keras.custom_objects import load_model
from mmsa_keras.errors import UsageError
from mmsa_keras.keras_compat import nested_layers
from mmsa_keras.models.base import class_scores
from mmsa_keras.uncertainty import mean_interval

METHODS = ("auto", "integrated_gradients", "occlusion")


# ------------------------------------------------------------------ loading
def load_explainable(path: str):
    """`(model, preprocessor, class_names)` of a training run or an `mmsa export` folder."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, RUN_CONFIG)):
        run = Run(path)
        return run.model, run.preprocessor, run.class_names
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb")):
        model = load_model(os.path.join(path, "model.keras"))
        with open(os.path.join(path, "labels.json"), encoding="utf-8") as f:
            return model, Preprocessor.load(path), json.load(f)
    raise UsageError(f"{path}: neither a training run nor an export (`mmsa train ... --out DIR`, `mmsa export`)")


def token_embedding(model):
    """The model's token embedding layer (a `keras.layers.Embedding`, the largest), or None."""
    found = [layer for layer in nested_layers(model) if isinstance(layer, keras.layers.Embedding)]
    named = [layer for layer in found if layer.name == "token_embedding"]
    return (named or sorted(found, key=lambda layer: -layer.input_dim) or [None])[0]


class _EmbeddingHook:
    """Within `with`, the embedding's output `e` becomes `e * scale` (`scale` `[B, 1 or L, 1]`; zero is the
    baseline) and is watched by `tape`, so the gradient with respect to the scaled embedding can be read."""

    def __init__(self, layer):
        self.layer, self.scale, self.tape, self.scaled = layer, None, None, None

    def __enter__(self):
        original = type(self.layer).call.__get__(self.layer)

        def call(*args, **kwargs):
            embedded = original(*args, **kwargs)
            if self.scale is None:
                return embedded
            self.scaled = embedded * tf.cast(self.scale, embedded.dtype)
            if self.tape is not None:
                self.tape.watch(self.scaled)
            return self.scaled

        self.layer.call = call
        return self

    def __exit__(self, *exc):
        del self.layer.call


# ------------------------------------------------------------------ the explainer
class Explainer:
    """Token attributions, an image heat map and modality contributions for one model.

    Args:
        model: a raw-input model (a run's `model.keras`).
        preprocessor: its `data_pipelines.pipeline.Preprocessor`.
        class_names: list of str.
        method: "auto", "integrated_gradients" or "occlusion" (tokens; see the module docstring).
        steps: integrated-gradients steps. Default 32.
        grid: image occlusion grid side. Default 8.
    """

    def __init__(self, model, preprocessor, class_names, method="auto", steps=32, grid=8):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.model, self.preprocessor, self.class_names = model, preprocessor, list(class_names)
        self.input_names = list(model.input)
        self.reads_text = "token_ids" in self.input_names or "text" in self.input_names
        self.reads_image = "images" in self.input_names
        self.embedding = token_embedding(model) if "token_ids" in self.input_names else None
        self.method = self._text_method(method)
        self.steps, self.grid = int(steps), int(grid)

    def _text_method(self, method: str) -> str | None:
        if not self.reads_text:
            return None
        differentiable = self.embedding is not None and "text" not in self.input_names
        if method == "auto":
            return "integrated_gradients" if differentiable else "occlusion"
        if method == "integrated_gradients" and not differentiable:
            why = "reads the raw caption (TF-IDF blend)" if "text" in self.input_names else "has no token embedding"
            raise ValueError(f"integrated gradients need a differentiable token embedding; this model {why}")
        return method

    # -------------------------------------------------------------- inputs and scores
    def inputs(self, texts, image_bytes) -> dict:
        """Model inputs for raw captions and encoded images (b"" for none)."""
        out = self.preprocessor.serve(
            tf.constant(list(texts), tf.string),
            tf.constant(list(image_bytes), tf.string),
            raw_text="text" in self.input_names,
        )
        return {name: out[name] for name in self.input_names}

    def scores(self, inputs: dict, batch: int = 32) -> np.ndarray:
        n = int(next(iter(inputs.values())).shape[0])
        parts = [
            class_scores(self.model({k: v[i : i + batch] for k, v in inputs.items()}, training=False))
            for i in range(0, n, batch)
        ]
        return np.concatenate([np.asarray(tf.cast(p, tf.float32)) for p in parts]) if parts else np.zeros((0, 0))

    def probabilities(self, text: str, image: bytes) -> np.ndarray:
        return self.scores(self.inputs([text], [image]))[0]

    def modality_contributions(self, text: str, image: bytes) -> dict:
        """Probabilities with both modalities, the caption only and the image only (None: not read or absent)."""
        out = {"both": self.probabilities(text, image).tolist(), "text_only": None, "image_only": None}
        if self.reads_text and self.reads_image and text.strip() and image:
            out["text_only"] = self.probabilities(text, b"").tolist()
            out["image_only"] = self.probabilities("", image).tolist()
        return out

    # -------------------------------------------------------------- tokens
    def token_attributions(self, text: str, image: bytes, target: int) -> dict:
        """`{"method", "tokens", "scores", ...}` for the caption (empty when the model reads none)."""
        if not self.reads_text or not text.strip():
            return {"method": self.method, "tokens": [], "scores": []}
        if self.method == "integrated_gradients":
            return self._integrated_gradients(text, image, target)
        return self._word_occlusion(text, image, target)

    def _word_occlusion(self, text: str, image: bytes, target: int) -> dict:
        words = text.split()
        variants = [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
        probs = self.scores(self.inputs([text, *variants], [image] * (len(words) + 1)))[:, target]
        return {"method": "occlusion", "tokens": words, "scores": (probs[0] - probs[1:]).tolist()}

    def _token_positions(self, inputs: dict) -> tuple[list[int], list[str], list[bool]]:
        ids = np.asarray(inputs["token_ids"])[0]
        mask = np.asarray(inputs.get("padding_mask", ids != 0))[0].astype(bool)
        positions = [int(i) for i in np.flatnonzero(mask)]
        strings = token_strings(self.preprocessor.tokenizer, [int(ids[i]) for i in positions])
        special = special_token_ids(self.preprocessor.tokenizer)
        return positions, strings, [int(ids[i]) in special for i in positions]

    def embedding_scaled_scores(self, inputs: dict, scale, target: int, tape=None):
        """Probabilities of `target` with the token embedding multiplied by `scale` `[B, 1 or L, 1]`."""
        with _EmbeddingHook(self.embedding) as hook:
            hook.scale, hook.tape = scale, tape
            probs = class_scores(self.model(inputs, training=False))
        return tf.cast(probs, tf.float32)[:, target], hook

    def _integrated_gradients(self, text: str, image: bytes, target: int) -> dict:
        inputs = self.inputs([text], [image])
        batch = {k: tf.repeat(v, self.steps, axis=0) for k, v in inputs.items()}
        alphas = ((np.arange(self.steps) + 0.5) / self.steps).astype("float32")[:, None, None]
        with tf.GradientTape() as tape:
            probs, hook = self.embedding_scaled_scores(batch, alphas, target, tape)
        grads = np.asarray(tf.cast(tape.gradient(probs, hook.scaled), tf.float32))
        embedded = np.asarray(tf.cast(hook.scaled, tf.float32))[-1] / alphas[-1]  # the unscaled embedding
        attributions = (embedded * grads.mean(0)).sum(-1)
        ends, _ = self.embedding_scaled_scores(inputs, np.array([[[1.0]]], "float32"), target)
        base, _ = self.embedding_scaled_scores(inputs, np.array([[[0.0]]], "float32"), target)
        positions, strings, special = self._token_positions(inputs)
        gap = float(attributions.sum() - (float(ends[0]) - float(base[0])))
        return {
            "method": "integrated_gradients",
            "tokens": strings,
            "scores": [float(attributions[i]) for i in positions],
            "special": special,
            "positions": positions,
            "completeness_gap": gap,
        }

    # -------------------------------------------------------------- image
    def image_heatmap(self, text: str, image: bytes, target: int) -> np.ndarray | None:
        """`[grid, grid]` drop of the target probability when each cell is filled with the image's mean colour."""
        if not self.reads_image or not image:
            return None
        inputs = self.inputs([text], [image])
        if float(np.asarray(inputs["image_present"])[0]) == 0:
            return None  # undecodable: the model saw no image
        picture = np.asarray(inputs["images"])[0]
        h, w, _ = picture.shape
        fill = picture.mean(axis=(0, 1))
        rows = np.linspace(0, h, self.grid + 1).astype(int)
        cols = np.linspace(0, w, self.grid + 1).astype(int)
        variants = np.repeat(picture[None], self.grid * self.grid, axis=0)
        for r in range(self.grid):
            for c in range(self.grid):
                variants[r * self.grid + c, rows[r] : rows[r + 1], cols[c] : cols[c + 1]] = fill
        n = len(variants)
        batch = {k: tf.repeat(v, n, axis=0) for k, v in inputs.items() if k != "images"}
        batch["images"] = tf.constant(variants)
        full = self.scores(inputs)[0, target]
        return (full - self.scores(batch)[:, target]).reshape(self.grid, self.grid)

    # -------------------------------------------------------------- one post
    def explain(self, text: str, image: bytes) -> dict:
        contributions = self.modality_contributions(text, image)
        probs = np.asarray(contributions["both"])
        target = int(probs.argmax())
        heat = self.image_heatmap(text, image, target)
        return {
            "predicted": self.class_names[target],
            "probabilities": dict(zip(self.class_names, map(float, probs))),
            # the label-embedding models of paper 003 score classes by cosine similarity, not probability
            "scores_are_probabilities": bool(abs(probs.sum() - 1) < 1e-3 and probs.min() >= 0),
            "modalities": contributions,
            "tokens": self.token_attributions(text, image, target),
            "image_heatmap": None if heat is None else heat.tolist(),
            "reads_image": self.reads_image,
        }


def token_strings(tokenizer, ids) -> list[str]:
    """The vocabulary entries of token ids, for either tokenizer kind."""
    if getattr(tokenizer, "kind", "") == "keras_hub":
        return [str(tokenizer.tokenizer.id_to_token(i)) for i in ids]
    vocabulary = tokenizer.layer.get_vocabulary()
    return [str(vocabulary[i]) if i < len(vocabulary) else "[UNK]" for i in ids]


def special_token_ids(tokenizer) -> set[int]:
    """Start/end/padding ids that a deletion check must not delete (keras-hub); none for word vocabularies."""
    if getattr(tokenizer, "kind", "") != "keras_hub":
        return {0}
    packer = tokenizer.packer
    ids = set()
    for value in (packer.start_value, packer.end_value, packer.pad_value):  # an id, or a list of ids
        ids |= {int(v) for v in (value if hasattr(value, "__iter__") else [value]) if v is not None}
    return ids


# ------------------------------------------------------------------ does it mean something?
def _without(explainer: Explainer, text: str, image: bytes, attribution: dict, drops, target: int) -> np.ndarray:
    """The target probability with the tokens at each list of indices in `drops` (of `attribution["tokens"]`)
    deleted, in one batch."""
    if attribution["method"] == "integrated_gradients":
        inputs = explainer.inputs([text], [image])
        scale = np.ones((len(drops), int(inputs["token_ids"].shape[1]), 1), "float32")
        for row, drop in enumerate(drops):
            scale[row, [attribution["positions"][i] for i in drop]] = 0.0
        batch = {k: tf.repeat(v, len(drops), axis=0) for k, v in inputs.items()}
        probs, _ = explainer.embedding_scaled_scores(batch, scale, target)
        return np.asarray(probs)
    texts = [" ".join(w for i, w in enumerate(attribution["tokens"]) if i not in set(drop)) for drop in drops]
    return explainer.scores(explainer.inputs(texts, [image] * len(texts)))[:, target]


def deletion_check(explainer: Explainer, posts, k: int = 3, random_draws: int = 5, seed: int = 0, progress=None):
    """Delete each post's top-k attributed tokens, and k random ones: how much does p(predicted) drop?

    `posts`: iterable of `(text, image_bytes)`. Posts with at most k deletable tokens are skipped
    (counted). Returns per-post drops and the paired mean difference (top-k minus random) with its
    95% bootstrap interval.
    """
    rng = np.random.default_rng(seed)
    top_drops, random_drops, skipped = [], [], 0
    for n, (text, image) in enumerate(posts, 1):
        probs = explainer.probabilities(text, image)
        target = int(probs.argmax())
        attribution = explainer.token_attributions(text, image, target)
        special = attribution.get("special") or [False] * len(attribution["tokens"])
        candidates = [i for i, s in enumerate(special) if not s]
        if len(candidates) <= k:
            skipped += 1
            continue
        scores = np.asarray(attribution["scores"])
        top = sorted(candidates, key=lambda i: -scores[i])[:k]
        draws = [rng.choice(candidates, k, replace=False).tolist() for _ in range(random_draws)]
        deleted = _without(explainer, text, image, attribution, [top, *draws], target)
        top_drops.append(probs[target] - deleted[0])
        random_drops.append(probs[target] - deleted[1:].mean())
        if progress:
            progress(n)
    if not top_drops:
        raise ValueError(f"no post has more than {k} tokens to delete")
    top_drops, random_drops = np.asarray(top_drops), np.asarray(random_drops)
    return {
        "k": k,
        "method": explainer.method,
        "posts": int(len(top_drops)),
        "skipped_short": skipped,
        "random_draws": random_draws,
        "top_k_drop": mean_interval(top_drops),
        "random_k_drop": mean_interval(random_drops),
        "difference": mean_interval(top_drops - random_drops),
        "top_larger_share": float(np.mean(top_drops > random_drops)),
    }
