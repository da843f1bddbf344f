"""Every use of Keras' private modules (`keras.src`), in one place, each with the Keras bug it works around.

* `fast_keras_saving()`: Keras 3's `saving_lib.get_attr_skipset` caches its
  per-type result under `saving_attr_skipset_<type>` but looks it up under
  `saving_attr_skiplist_<type>`, so every layer visited while saving or loading
  builds a throw-away `Layer()` and lists its attributes (about 1 ms each: 0.4 s
  of the 1.9 s that saving a head with ResNet-50 + MiniLM took, profiled). It
  stores the same sets under the name looked up; what is saved or loaded is
  unchanged (`tests/mmsa_keras/test_custom_objects.py`). Seen in
  `keras/src/saving/saving_lib.py` of Keras 3.x; no upstream issue number is
  recorded here.
* `patch_multi_worker_reduction()`: Keras 3 averages each step's logs across
  workers with `strategy.reduce("MEAN", v, axis=0)`, which fails for scalar
  logs under `MultiWorkerMirroredStrategy` (tensorflow/tensorflow#72388).

`tests/test_layout.py` checks that no other module imports `keras.src`.
"""

from __future__ import annotations

import tensorflow as tf
from keras.src.backend.common import global_state
from keras.src.backend.tensorflow import trainer as tf_trainer
from keras.src.saving import saving_lib

_SKIPSET_TYPES = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss")
_skipsets: dict = {}


def fast_keras_saving() -> None:
    """Give Keras' saving code the attribute skip-sets under the key it looks them up by (see above).

    Keras' global state is per thread and reset by `clear_session`, so this is
    called before each save or load (a no-op when already in place).
    """
    if not _skipsets:
        for obj_type in _SKIPSET_TYPES:
            try:
                _skipsets[obj_type] = frozenset(saving_lib.get_attr_skipset(obj_type))
            except Exception:  # a Keras without this type (or without the function): leave Keras as it is
                _skipsets.clear()
                return
    for obj_type, skipset in _skipsets.items():
        name = f"saving_attr_skiplist_{obj_type}"
        if global_state.get_global_attribute(name) is None:
            global_state.set_global_attribute(name, set(skipset))


def patch_multi_worker_reduction() -> None:
    """Keras 3 averages each step's logs across workers with `strategy.reduce("MEAN", v, axis=0)`, which
    fails for the scalar logs ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). Scalars are averaged across the replicas with `axis=None` instead, so
    every worker still sees the same (global) logs and takes the same early-stopping decisions."""
    if getattr(tf_trainer.reduce_per_replica, "_mmsa_patched", False):
        return
    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and reduction in ("auto", "mean"):

            def _reduce(v):
                if not isinstance(v, tf.distribute.DistributedValues):
                    return v
                rank = strategy.experimental_local_results(v)[0].shape.rank
                return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)

            return tf.nest.map_structure(_reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._mmsa_patched = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def nested_layers(model) -> list:
    """Every layer inside `model`, nested models' layers included (Keras has no public call for it: the
    tracker's `_flatten_layers` is what `Model.summary(expand_nested=True)` walks)."""
    return list(model._flatten_layers(include_self=False, recursive=True))
