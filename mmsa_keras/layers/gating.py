"""The gating layers GL1 and GL2 of paper 003 (Table 8)."""

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.layers.UnitInterval")
class UnitInterval(keras.constraints.Constraint):
    """Clips every weight to [min_value, max_value] (default [0, 1]) after each update."""

    def __init__(self, min_value=0.0, max_value=1.0):
        self.min_value = min_value
        self.max_value = max_value

    def __call__(self, w):
        return ops.clip(w, self.min_value, self.max_value)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value}


@mmsa_export("mmsa_keras.layers.GL1")
class GL1(keras.layers.Layer):
    """Gating layer 1: a trainable weight vector multiplied element-wise with the input.

    Paper 003 ("Image and text sentiment on MVSO/Flickr"), section 4.2 and
    Table 8: "This layer simply multiplied the inputs with the weights
    elementwise, producing an output with the same dimensions as the input.
    ... GL1 had no constraints on the weight values." The gate is initialised
    to ones (the identity), so training starts from the ungated features.

    Args:
        gate_initializer: initializer of the gate vector. Default "ones".
        gate_constraint: optional Keras constraint on the gate. Default None.

    Example:
    >>> gl = mmsa_keras.layers.GL1()
    >>> gl(np.ones((2, 5))).shape
    (2, 5)
    """

    def __init__(self, gate_initializer="ones", gate_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.gate_initializer = keras.initializers.get(gate_initializer)
        self.gate_constraint = keras.constraints.get(gate_constraint)

    def build(self, input_shape):
        self.gate = self.add_weight(
            name="gate",
            shape=(input_shape[-1],),
            initializer=self.gate_initializer,
            constraint=self.gate_constraint,
            trainable=True,
        )
        self.built = True

    def call(self, inputs):
        return inputs * ops.cast(self.gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "gate_initializer": keras.initializers.serialize(self.gate_initializer),
            "gate_constraint": keras.constraints.serialize(self.gate_constraint),
        }


@mmsa_export("mmsa_keras.layers.GL2")
class GL2(GL1):
    """Gating layer 2: like `GL1`, with every gate weight constrained to [0, 1].

    Paper 003, Table 8: "The second (GL2) constrained the weights to take on
    values between 0 and 1." The constraint (`UnitInterval`) is applied by the
    optimizer after every update, so the gate can only attenuate a feature.

    Example:
    >>> gl = mmsa_keras.layers.GL2()
    """

    def __init__(self, gate_initializer="ones", gate_constraint=None, **kwargs):
        super().__init__(
            gate_initializer=gate_initializer, gate_constraint=gate_constraint or UnitInterval(0.0, 1.0), **kwargs
        )
