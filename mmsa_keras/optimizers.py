"""Optimizers with a separate learning rate for the encoders, and warm-up schedules.

Fine-tuning trains the encoders with a smaller learning rate than the new head
(`encoder_learning_rate`). `GroupedAdamW` and `GroupedSGD` scale the learning
rate of the variables listed in `slow_variable_paths` by `slow_factor`
(= encoder lr / head lr) at every update. `WarmupDecay` warms up linearly for
`warmup_steps`, then decays linearly or with a cosine to zero (paper 000: 500
warm-up steps, AdamW weight decay 0.01).
"""

from __future__ import annotations

import math

import keras
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
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps,
                "decay_steps": self.decay_steps, "kind": self.kind}


def _variable_key(variable) -> str:
    """A Keras variable's path; the TF backend may hand over the underlying tf.Variable."""
    path = getattr(variable, "path", None)
    return path if path is not None else variable.name.split(":")[0]


class _GroupedLearningRate:
    def _set_groups(self, slow_variable_paths, slow_factor):
        self.slow_variable_paths = list(slow_variable_paths or [])
        self._slow = set(self.slow_variable_paths)
        self.slow_factor = float(slow_factor)

    def update_step(self, gradient, variable, learning_rate):
        if self.slow_factor != 1.0 and _variable_key(variable) in self._slow:
            learning_rate = learning_rate * self.slow_factor
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "slow_variable_paths": self.slow_variable_paths,
                "slow_factor": self.slow_factor}


@mmsa_export("mmsa_keras.optimizers.GroupedAdamW")
class GroupedAdamW(_GroupedLearningRate, keras.optimizers.AdamW):
    """AdamW whose `slow_variable_paths` learn at `slow_factor` x the learning rate (Adam when weight_decay=0)."""

    def __init__(self, slow_variable_paths=(), slow_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self._set_groups(slow_variable_paths, slow_factor)


@mmsa_export("mmsa_keras.optimizers.GroupedSGD")
class GroupedSGD(_GroupedLearningRate, keras.optimizers.SGD):
    """SGD (with momentum) whose `slow_variable_paths` learn at `slow_factor` x the learning rate."""

    def __init__(self, slow_variable_paths=(), slow_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self._set_groups(slow_variable_paths, slow_factor)


def make_optimizer(name: str, learning_rate: float, steps: int, warmup_steps: int = 0, schedule: str = "constant",
                   weight_decay: float = 0.0, momentum: float = 0.0, encoder_variables=(),
                   encoder_learning_rate: float | None = None):
    """Build the optimizer of a run: "adam", "adamw" or "sgd", with warm-up/decay and lr groups."""
    lr = learning_rate
    if warmup_steps or schedule != "constant":
        lr = WarmupDecay(learning_rate, warmup_steps, max(steps, warmup_steps + 1), schedule)
    slow = {"slow_variable_paths": [v.path for v in encoder_variables],
            "slow_factor": (encoder_learning_rate / learning_rate) if encoder_learning_rate else 1.0}
    if name in ("adam", "adamw"):
        return GroupedAdamW(learning_rate=lr, weight_decay=weight_decay if name == "adamw" else 0.0, **slow)
    if name == "sgd":
        return GroupedSGD(learning_rate=lr, momentum=momentum, **slow)
    raise ValueError(f"optimizer must be adam, adamw or sgd, got {name!r}")
