"""Weighted and macro F1 as Keras metrics (paper 001 selects its model on weighted F1).

`SparseF1(num_classes, average)` accumulates a confusion matrix of integer
labels against the argmax of the scores over an epoch, so `fit` logs
`val_weighted_f1` / `val_macro_f1` next to the loss and EarlyStopping or
ModelCheckpoint can follow them.
"""

from __future__ import annotations

import keras
from keras import ops

from mmsa_keras.api_export import mmsa_export


@mmsa_export("mmsa_keras.metrics.SparseF1")
class SparseF1(keras.metrics.Metric):
    """F1 of integer labels against argmax predictions, averaged "weighted" (by support) or "macro".

    Args:
        num_classes: int.
        average: "weighted" or "macro". Default "weighted".
    """

    def __init__(self, num_classes: int, average: str = "weighted", name: str | None = None, **kwargs):
        if average not in ("weighted", "macro"):
            raise ValueError(f"average must be weighted or macro, got {average!r}")
        super().__init__(name=name or f"{average}_f1", **kwargs)
        self.num_classes = int(num_classes)
        self.average = average
        self.matrix = self.add_variable(
            (self.num_classes, self.num_classes), initializer="zeros", dtype="float32", name="confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.argmax(ops.reshape(ops.cast(y_pred, "float32"), (-1, self.num_classes)), axis=-1)
        t = ops.one_hot(labels, self.num_classes, dtype="float32")
        p = ops.one_hot(predicted, self.num_classes, dtype="float32")
        if sample_weight is not None:
            t = t * ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
        self.matrix.assign_add(ops.matmul(ops.transpose(t), p))

    def result(self):
        m = self.matrix
        true_positive = ops.diagonal(m)
        support = ops.sum(m, axis=1)
        predicted = ops.sum(m, axis=0)
        precision = ops.divide_no_nan(true_positive, predicted)
        recall = ops.divide_no_nan(true_positive, support)
        f1 = ops.divide_no_nan(2.0 * precision * recall, precision + recall)
        if self.average == "macro":
            return ops.mean(f1)
        return ops.divide_no_nan(ops.sum(f1 * support), ops.sum(support))

    def reset_state(self):
        self.matrix.assign(ops.zeros_like(self.matrix))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "average": self.average}
