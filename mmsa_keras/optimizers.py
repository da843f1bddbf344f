"""Optimizers with per-variable learning rates, and warm-up schedules.

Fine-tuning trains the encoders with a smaller learning rate than the new head
(`encoder_learning_rate`), optionally decayed layer by layer down a transformer
(`layer_decay`: layer l of L learns at encoder_lr * decay^(L - l), embeddings
at decay^(L + 1)). `GroupedAdamW` and `GroupedSGD` multiply the learning rate
of each variable named in `lr_multipliers` by its factor at every update.
`WarmupDecay` warms up linearly for `warmup_steps`, then decays linearly or with
a cosine to zero (paper 000: 500 warm-up steps, AdamW weight decay 0.01).

Decoupled weight decay follows each variable's own rate (`lr * factor * wd`), as
in PyTorch's AdamW with parameter groups: an encoder fine-tuned at 5e-5 is not
decayed at the head's 1e-3.

With the TensorFlow backend and no distribution strategy, the update of each
variable is traced without `tf.distribute`'s per-variable merge calls, and
`GroupedAdamW` updates each variable with TensorFlow's fused Adam kernel
(`ResourceApplyAdam`, the same formula as Keras' Adam); with the slots built
before `fit`, this halves the first step of fine-tuning MiniLM (hundreds of
variables; BENCHMARKS.md). Under a strategy (mirrored, multi-worker) Keras' own
path is used.
"""

from __future__ import annotations

import math
import re

import keras
import tensorflow as tf
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.optimizers.WarmupDecay")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate`, then "linear", "cosine" or "constant"."""

    def __init__(self, peak_learning_rate, warmup_steps=0, decay_steps=1000, kind="linear"):
        if kind not in ("linear", "cosine", "constant"):
            raise ValueError(f"kind must be linear, cosine or constant, got {kind!r}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.kind = kind

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warm = peak * (step + 1.0) / max(self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / max(self.decay_steps - self.warmup_steps, 1), 0.0, 1.0)
        if self.kind == "linear":
            after = peak * (1.0 - progress)
        elif self.kind == "cosine":
            after = peak * 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            after = ops.convert_to_tensor(peak, "float32")
        return ops.where(step < self.warmup_steps, warm, after)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "kind": self.kind,
        }


def _variable_key(variable) -> str:
    """A Keras variable's path; the TF backend may hand over the underlying tf.Variable."""
    path = getattr(variable, "path", None)
    return path if path is not None else variable.name.split(":")[0]


def _tf_default_strategy() -> bool:
    """True with the TensorFlow backend and no tf.distribute strategy in scope (one device)."""
    if keras.backend.backend() != "tensorflow":
        return False

    return not tf.distribute.has_strategy() and tf.distribute.get_replica_context() is not None


def _tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


class _GroupedLearningRate:
    def _set_groups(self, lr_multipliers, slow_variable_paths=(), slow_factor=1.0):
        multipliers = {str(k): float(v) for k, v in dict(lr_multipliers or {}).items()}
        for path in slow_variable_paths or ():  # the older two-group form
            multipliers.setdefault(str(path), float(slow_factor))
        self.lr_multipliers = {k: v for k, v in multipliers.items() if v != 1.0}

    def _scaled(self, variable, learning_rate):
        factor = self.lr_multipliers.get(_variable_key(variable))
        return learning_rate if factor is None else learning_rate * factor

    def update_step(self, gradient, variable, learning_rate):
        return super().update_step(gradient, variable, self._scaled(variable, learning_rate))

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not _tf_default_strategy():
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        # one device: what tf.distribute's update would do, without a merge call per variable
        self._step_terms = {}  # per dtype, terms every variable's update shares (built once per step)
        try:
            for grad, variable in zip(grads, trainable_variables):
                self.update_step(grad, _tf_variable(variable), learning_rate)
        finally:
            self._step_terms = None

    def _shared(self, dtype, make):
        """`make()` once per step and dtype while `_backend_update_step` runs; every call otherwise."""
        cache = getattr(self, "_step_terms", None)
        if cache is None:
            return make()
        if dtype not in cache:
            cache[dtype] = make()
        return cache[dtype]

    def _apply_weight_decay(self, variables):
        if not self.weight_decay:  # None or 0: Adam, not AdamW
            return
        learning_rate = self._get_current_learning_rate()  # once, not once per variable

        def decay(variable):
            if self._use_weight_decay(variable):
                rate = ops.cast(self._scaled(variable, learning_rate), variable.dtype)
                variable.assign_sub(variable * ops.cast(self.weight_decay, variable.dtype) * rate)

        if keras.backend.backend() != "tensorflow":
            for variable in variables:
                decay(variable)
            return

        if _tf_default_strategy():
            for variable in variables:
                decay(_tf_variable(variable))
            return

        def distributed(distribution, variables):
            for variable in variables:
                distribution.extended.update(_tf_variable(variable), decay, group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(distributed, self._distribution_strategy, variables)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}


@mmsa_export("mmsa_keras.optimizers.GroupedAdamW")
class GroupedAdamW(_GroupedLearningRate, keras.optimizers.AdamW):
    """AdamW whose variables in `lr_multipliers` ({path: factor}) learn at factor x the learning rate
    (Adam when weight_decay=0)."""

    def __init__(self, lr_multipliers=None, slow_variable_paths=(), slow_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self._set_groups(lr_multipliers, slow_variable_paths, slow_factor)

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or not _tf_default_strategy():
            return super().update_step(gradient, variable, learning_rate)

        # TensorFlow's fused kernel: alpha = lr sqrt(1 - b2^t) / (1 - b1^t); m += (g - m)(1 - b1);
        # v += (g^2 - v)(1 - b2); w -= alpha m / (sqrt(v) + eps) -- Keras' Adam.update_step, in one op
        variable = _tf_variable(variable)
        dtype = variable.dtype
        index = self._get_variable_index(variable)

        def terms():
            step = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            lr = tf.cast(learning_rate, dtype)
            return beta_1, beta_2, tf.pow(beta_1, step), tf.pow(beta_2, step), tf.cast(self.epsilon, dtype), lr

        beta_1, beta_2, beta_1_power, beta_2_power, epsilon, lr = self._shared(dtype, terms)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=_tf_variable(self._momentums[index]).handle,
            v=_tf_variable(self._velocities[index]).handle,
            beta1_power=beta_1_power,
            beta2_power=beta_2_power,
            lr=self._scaled(variable, lr),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=epsilon,
            grad=tf.cast(tf.convert_to_tensor(gradient), dtype),
            use_locking=False,
            use_nesterov=False,
        )


@mmsa_export("mmsa_keras.optimizers.GroupedSGD")
class GroupedSGD(_GroupedLearningRate, keras.optimizers.SGD):
    """SGD (with momentum) whose variables in `lr_multipliers` learn at factor x the learning rate."""

    def __init__(self, lr_multipliers=None, slow_variable_paths=(), slow_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self._set_groups(lr_multipliers, slow_variable_paths, slow_factor)


_LAYER = re.compile(r"transformer_layer_(\d+)/")


@mmsa_export("mmsa_keras.optimizers.GroupedRMSprop")
class GroupedRMSprop(_GroupedLearningRate, keras.optimizers.RMSprop):
    """RMSprop (paper 003's embedding classifiers) whose variables in `lr_multipliers` learn at factor x the rate."""

    def __init__(self, lr_multipliers=None, slow_variable_paths=(), slow_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self._set_groups(lr_multipliers, slow_variable_paths, slow_factor)


def learning_rate_multipliers(
    encoder_variables, learning_rate: float, encoder_learning_rate: float | None, layer_decay: float | None = None
) -> dict[str, float]:
    """{variable path: factor} for the trainable encoder variables.

    factor = encoder_lr / lr, times decay^(L - l) for a variable of transformer
    layer l (of L) and decay^(L + 1) for the embeddings when `layer_decay` is set.
    """
    base = (encoder_learning_rate / learning_rate) if encoder_learning_rate else 1.0
    variables = list(encoder_variables)
    if not layer_decay:
        return {v.path: base for v in variables}
    layers = [int(m.group(1)) for v in variables if (m := _LAYER.search(v.path))]
    depth = (max(layers) + 1) if layers else 0
    out = {}
    for v in variables:
        m = _LAYER.search(v.path)
        if m:
            power = depth - 1 - int(m.group(1))
        elif "embedding" in v.path:
            power = depth
        else:  # the pooler and anything above the last layer
            power = 0
        out[v.path] = base * layer_decay**power
    return out


def make_optimizer(
    name: str,
    learning_rate: float,
    steps: int,
    warmup_steps: int = 0,
    schedule: str = "constant",
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    encoder_variables=(),
    encoder_learning_rate: float | None = None,
    layer_decay: float | None = None,
):
    """Build the optimizer of a run: "adam", "adamw" or "sgd", with warm-up/decay and per-variable rates."""
    lr = learning_rate
    if warmup_steps or schedule != "constant":
        lr = WarmupDecay(learning_rate, warmup_steps, max(steps, warmup_steps + 1), schedule)
    multipliers = learning_rate_multipliers(encoder_variables, learning_rate, encoder_learning_rate, layer_decay)
    if name in ("adam", "adamw"):
        return GroupedAdamW(
            learning_rate=lr, weight_decay=weight_decay if name == "adamw" else 0.0, lr_multipliers=multipliers
        )
    if name == "sgd":
        return GroupedSGD(learning_rate=lr, momentum=momentum, lr_multipliers=multipliers)
    if name == "rmsprop":
        return GroupedRMSprop(learning_rate=lr, lr_multipliers=multipliers)
    raise ValueError(f"optimizer must be adam, adamw, sgd or rmsprop, got {name!r}")
