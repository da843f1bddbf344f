"""Shared plumbing of the multimodal models: inputs, encoders, presence flags, config.

Every model is a functional subclass of `MultimodalModel` (keras-hub style). It
runs in one of two modes, chosen by its constructor arguments:

* raw mode: `text_encoder` / `image_encoder` are Keras models (the contracts of
  `mmsa_keras.encoders`); inputs are `images`, `token_ids`, `padding_mask`
  (`segment_ids` when the encoder wants it) and the presence flags;
* feature mode: `text_feature_shape` / `image_feature_shape` give the shape of
  precomputed encoder outputs, `(D,)` for a pooled vector or `(S, D)` for a
  sequence; inputs are `text_features` and `image_features`, and with a
  sequence also `text_feature_mask` and the encoder's pooled vector
  (`text_pooled_features`, `image_pooled_features`), so that feature mode
  computes exactly what raw mode does.

`text_present` / `image_present` (float32 `[B]`) are always inputs.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import tree

from mmsa_keras.layers.presence_mask import PresenceMask

ENCODER_KEYS = ("text_encoder", "image_encoder")
#: the output key of the class scores when a model has several outputs
PROBABILITIES = "probabilities"


def class_scores(outputs):
    """The `[B, C]` class scores of a model's outputs (a tensor, or a dict of them)."""
    return outputs[PROBABILITIES] if isinstance(outputs, dict) else outputs


def text_branch(inputs: dict, text_encoder=None, text_feature_shape=None) -> dict:
    """Add the text inputs to `inputs`; return the text tensors.

    Returns a dict with `pooled` `[B, D]`, `present` `[B]` and, when the
    encoder or the features give one, `sequence` `[B, L, D]` and `mask` `[B, L]`.
    """
    out = {}
    if text_encoder is not None:
        spec = text_encoder.input
        if not isinstance(spec, dict):
            raise ValueError("a text encoder must take a dict of inputs (token_ids, padding_mask, ...)")
        for name, t in spec.items():
            inputs[name] = keras.Input(t.shape[1:], dtype=t.dtype, name=name)
        encoded = text_encoder({name: inputs[name] for name in spec})
        out["sequence"] = encoded["sequence_output"]
        out["pooled"] = encoded["pooled_output"]
        out["mask"] = inputs["padding_mask"]
    elif text_feature_shape is not None:
        shape = tuple(text_feature_shape)
        inputs["text_features"] = keras.Input(shape, name="text_features")
        if len(shape) == 1:
            out["pooled"] = inputs["text_features"]
        else:  # a sequence: its mask and the encoder's own pooled vector come with it
            inputs["text_feature_mask"] = keras.Input((shape[0],), dtype="int32", name="text_feature_mask")
            inputs["text_pooled_features"] = keras.Input((shape[-1],), name="text_pooled_features")
            out["sequence"] = inputs["text_features"]
            out["mask"] = inputs["text_feature_mask"]
            out["pooled"] = inputs["text_pooled_features"]
    else:
        raise ValueError("give a text_encoder (raw mode) or a text_feature_shape (feature mode)")
    inputs["text_present"] = keras.Input((), name="text_present")
    out["present"] = inputs["text_present"]
    return out


def image_branch(inputs: dict, image_encoder=None, image_feature_shape=None) -> dict:
    """Add the image inputs to `inputs`; return the image tensors.

    Returns `pooled` `[B, D]`, `present` `[B]` and, when available, `sequence`
    `[B, h*w, C]` (the spatial map flattened, paper 002) and `map` `[B, h, w, C]`.
    """
    out = {}
    if image_encoder is not None:
        inputs["images"] = keras.Input(image_encoder.input.shape[1:], name="images")
        encoded = image_encoder(inputs["images"])
        out["pooled"] = encoded["pooled_output"]
        fmap = encoded.get("feature_map")
        if fmap is not None:
            h, w, c = fmap.shape[1:]
            out["map"] = fmap
            out["sequence"] = keras.layers.Reshape((h * w, c), name="image_map_to_sequence")(fmap)
    elif image_feature_shape is not None:
        shape = tuple(image_feature_shape)
        inputs["image_features"] = keras.Input(shape, name="image_features")
        if len(shape) == 1:
            out["pooled"] = inputs["image_features"]
        else:  # the flattened spatial map, with the encoder's pooled vector
            inputs["image_pooled_features"] = keras.Input((shape[-1],), name="image_pooled_features")
            out["sequence"] = inputs["image_features"]
            out["pooled"] = inputs["image_pooled_features"]
    else:
        raise ValueError("give an image_encoder (raw mode) or an image_feature_shape (feature mode)")
    inputs["image_present"] = keras.Input((), name="image_present")
    out["present"] = inputs["image_present"]
    return out


def projection(x, dim: int, dropout: float, name: str):
    """Dropout + Dense(dim, relu): paper 002's per-modality projection."""
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.layers.Dense(dim, activation="relu", name=f"{name}_dense")(x)


def masked_by_presence(x, present, name: str):
    return PresenceMask(name=name)([x, present])


class MultimodalModel(keras.Model):
    """Base class: stores constructor arguments and (de)serialises the encoders.

    A model returns either the `[B, C]` class probabilities, or a dict whose
    `"probabilities"` entry holds them next to auxiliary outputs (per-modality
    heads, embeddings for an auxiliary loss). `training_objective()` says
    which outputs carry which loss; the training glue compiles with it and
    feeds the integer labels to every output that has a loss.
    """

    #: registry metadata, filled in by subclasses
    paper = ""
    table = ""
    #: feature mode: which text encoder output stands for the post ("pooled_output" or
    #: "mean_output"), and whether the model reads token states / the spatial map
    text_feature = "pooled_output"
    uses_sequences = False
    #: whether the model can take precomputed features (composed models of trained models cannot)
    supports_feature_mode = True

    def _store_config(self, **config):
        self._mmsa_config = config
        for key in ENCODER_KEYS:
            if config.get(key) is not None:
                setattr(self, key, config[key])

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Build from one local replica's batch under a distribution strategy.

        Keras all-reduces the whole (dict) batch only to infer shapes, which
        MultiWorkerMirroredStrategy's collective ops cannot do for nested inputs;
        a local replica's batch gives the same shapes.
        """
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None or iterator is None or data_batch is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            batch = next(it)
            data_batch = tree.map_structure(
                lambda x: (
                    strategy.experimental_local_results(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x
                ),
                batch,
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def training_objective(self) -> dict:
        """`compile` arguments: loss (per output), loss weights and metrics."""
        if isinstance(self.output, dict):
            return {
                "loss": {PROBABILITIES: "sparse_categorical_crossentropy"},
                "metrics": {PROBABILITIES: ["accuracy"]},
            }
        return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for key, value in self._mmsa_config.items():
            if key in ENCODER_KEYS and value is not None:
                value = keras.saving.serialize_keras_object(value)
            config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ENCODER_KEYS:
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
