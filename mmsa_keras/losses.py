"""Losses of papers 003 and 004.

* `CommonSpaceLoss`: the auxiliary task of paper 004's common space fusion
  (equation 14): the image vector of a post must be closer to its own text
  vector than to the text vectors of g posts from other classes.
* `LabelEmbeddingLoss`: paper 003's embedding classifiers, trained towards the
  label word's vector with cosine proximity, mean squared error or hinge loss.

Both take integer class labels as `y_true`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmsa_keras.api_export import mmsa_export


def pack_common_space(image_vec, text_vec, image_present, text_present):
    """Pack what `CommonSpaceLoss` needs into one `[B, 2d + 2]` model output."""
    return ops.concatenate(
        [image_vec, text_vec, ops.expand_dims(image_present, -1), ops.expand_dims(text_present, -1)], axis=-1
    )


@mmsa_export("mmsa_keras.losses.CommonSpaceLoss")
class CommonSpaceLoss(keras.losses.Loss):
    """Auxiliary ranking loss of paper 004, equation 14.

    For a post with image vector γ(i) and text vector ψ(s⁺), and g text
    vectors ψ(s⁻_j) of posts of *other* classes from the same batch, chosen at
    random at every step:

        aux = Σ_j −log( exp(−d(γ, ψ⁺)) / (exp(−d(γ, ψ⁺)) + exp(−d(γ, ψ⁻_j))) )

    with d the Euclidean distance. Only posts with both modalities present take
    part (as anchors and as negatives); a post with fewer than g eligible
    negatives in its batch uses those it has. The loss is averaged over the
    eligible posts. The model weights it against the classification loss
    (total = λ·CE + aux, λ = 3 in the paper).

    `y_pred` is the `[B, 2d + 2]` tensor made by `pack_common_space`.

    Args:
        num_negatives: int. g (3 for Reddit, 4 for Flickr). Default 3.
        seed: int. Seed of the negative sampling. Default None.
    """

    def __init__(self, num_negatives=3, seed=None, name="common_space_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.num_negatives = num_negatives
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        d = (ops.shape(y_pred)[-1] - 2) // 2
        image, text = y_pred[:, :d], y_pred[:, d : 2 * d]
        both = y_pred[:, 2 * d] * y_pred[:, 2 * d + 1]  # [B]
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        # pairwise distances d(γ_i, ψ_j): [B, B]
        diff = ops.expand_dims(image, 1) - ops.expand_dims(text, 0)
        dist = ops.sqrt(ops.sum(diff * diff, axis=-1) + 1e-12)
        positive = ops.diagonal(dist)
        other_class = ops.cast(ops.not_equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0)), "float32")
        eligible = other_class * ops.expand_dims(both, 0) * ops.expand_dims(both, 1)
        # choose g random eligible negatives per anchor: top-g of random scores
        noise = keras.random.uniform(ops.shape(dist), seed=self.seed_generator)
        scores = ops.where(eligible > 0, noise, -1.0)
        g = ops.minimum(self.num_negatives, ops.shape(dist)[1])
        kth = ops.top_k(scores, k=g, sorted=True)[0][:, -1:]
        chosen = ops.cast(scores >= kth, "float32") * eligible
        # −log σ(d⁻ − d⁺) = softplus(d⁺ − d⁻)
        terms = ops.softplus(ops.expand_dims(positive, 1) - dist) * chosen
        per_post = ops.sum(terms, axis=1)
        anchors = ops.cast(ops.sum(chosen, axis=1) > 0, "float32")
        return per_post * anchors * ops.cast(ops.shape(labels)[0], "float32") / ops.maximum(ops.sum(anchors), 1.0)

    def get_config(self):
        return {"name": self.name, "num_negatives": self.num_negatives, "seed": self.seed, "reduction": self.reduction}


@mmsa_export("mmsa_keras.losses.LabelEmbeddingLoss")
class LabelEmbeddingLoss(keras.losses.Loss):
    """Loss between a predicted embedding `[B, E]` and the vector of the true label.

    Paper 003, Tables 3, 4, 7, 9: "cosine proximity" (−cos), "mean squared
    error" and "hinge" (Keras's `max(0, 1 − t·p)` with the label vector as t).

    Args:
        label_vectors: array `[C, E]`.
        kind: "cosine", "mse" or "hinge". Default "cosine".
    """

    KINDS = ("cosine", "mse", "hinge")

    def __init__(self, label_vectors, kind="cosine", name="label_embedding_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.label_vectors = np.asarray(label_vectors, "float32").tolist()
        self.kind = kind

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        targets = ops.take(
            ops.convert_to_tensor(self.label_vectors, "float32"), ops.reshape(ops.cast(y_true, "int32"), (-1,)), axis=0
        )
        if self.kind == "cosine":
            p = y_pred / ops.maximum(ops.norm(y_pred, axis=-1, keepdims=True), 1e-8)
            t = targets / ops.maximum(ops.norm(targets, axis=-1, keepdims=True), 1e-8)
            return -ops.sum(p * t, axis=-1)
        if self.kind == "mse":
            return ops.mean(ops.square(y_pred - targets), axis=-1)
        return ops.mean(ops.maximum(1.0 - targets * y_pred, 0.0), axis=-1)

    def get_config(self):
        return {"name": self.name, "label_vectors": self.label_vectors, "kind": self.kind, "reduction": self.reduction}
