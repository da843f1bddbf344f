"""Decision-level fusion of per-modality class probabilities, respecting presence."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export

MODES = ("renormalised_sum", "softmax_sum", "product", "logit_sum")


@mmsa_export("mmsa_keras.layers.ProbabilityFusion")
class ProbabilityFusion(keras.layers.Layer):
    """Fuses K probability vectors `[B, C]` into one, using only present modalities.

    Modes:
        * "renormalised_sum": Σ_k w_k p_k / Σ_k w_k, the present heads'
          probabilities added and re-normalised (paper 002, NativeCombineModel).
        * "softmax_sum": softmax(Σ_k w_k p_k), paper 002's CMAC and HSTEC
          ("the two probability vectors are summed and soft-maxed").
        * "product": Π_k p_k^{w_k}, re-normalised; its argmax is paper 004's
          late fusion ("the predicted class is the highest product").
        * "logit_sum": softmax(Σ_k w_k logit_k), the heads' logits added before
          one softmax (log-probabilities, the same up to a constant per head);
          our reading of paper 002's CMAC and HSTEC "summed and soft-maxed"
          (a softmax over summed probabilities, "softmax_sum", caps the output
          at e²/(e² + C - 1), 0.787 for 3 classes, and starves the heads of
          gradient).

    w_k is the presence flag of modality k. A post with no modality present
    gets the plain (unweighted) fusion of all heads, so the output stays a
    distribution.

    With `from_logits=True` the inputs are the heads' logits: "logit_sum"
    and "product" then add log-softmaxes computed stably, so a head whose
    softmax saturates (a probability that underflows to 0 in float32) still
    passes gradient; fusing probabilities through `log(max(p, 1e-12))` does
    not, and a model with large activations (random-weight ResNet-50 maps)
    stalls on one class. The two-head models of paper 002 pass logits.

    Call arguments:
        inputs: list of K tensors `[B, C]` of probabilities (or logits).
        presence: list of K tensors `[B]`, or None (all present).

    Args:
        mode: one of "renormalised_sum", "softmax_sum", "product", "logit_sum".
        from_logits: bool. The inputs are logits. Default False.
    """

    def __init__(self, mode="renormalised_sum", from_logits=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.from_logits = from_logits

    def call(self, inputs, presence=None):
        p = ops.stack([ops.cast(x, "float32") for x in inputs], axis=1)  # [B, K, C]
        if self.from_logits:
            log_p = ops.log_softmax(p, axis=-1)
            p = ops.exp(log_p)
        if presence is None:
            w = ops.ones(ops.shape(p)[:2], "float32")
        else:
            w = ops.stack([ops.cast(q, "float32") for q in presence], axis=1)  # [B, K]
        none_present = ops.cast(ops.sum(w, axis=1, keepdims=True) == 0, "float32")
        w = ops.expand_dims(w + none_present, -1)  # all heads count when none is present
        if self.mode == "renormalised_sum":
            total = ops.sum(w * p, axis=1)
            return total / ops.sum(total, axis=-1, keepdims=True)
        if self.mode == "softmax_sum":
            return ops.softmax(ops.sum(w * p, axis=1), axis=-1)
        # "product" and "logit_sum": log p_k = logit_k − logsumexp(logit_k), the constant cancels
        if not self.from_logits:
            log_p = ops.log(ops.maximum(p, 1e-12))
        log_product = ops.sum(w * log_p, axis=1)
        return ops.softmax(log_product, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def compute_output_spec(self, inputs, presence=None):
        return keras.KerasTensor(inputs[0].shape, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "from_logits": self.from_logits}
