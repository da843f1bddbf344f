"""Fit and resume: precision and strategy, the training objective, the callbacks, and exact resume.

`TrainingState` writes, at the end of every epoch, everything the rest of a run depends on (model and
optimizer variables, dropout RNG states, the early-stopping and checkpoint state) as a new backup
generation, keeping the previous one until the new one is complete; with the epoch-seeded input
streams (`data_pipelines.batching`), a resumed run ends with the same weights as an uninterrupted one
(bitwise on a CPU). A corrupt or truncated backup is reported and the previous generation (or a fresh
start) is used instead.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from data_pipelines.image_cache import file_digest
from mmsa_keras.app import runs
from mmsa_keras.app.config import PRECISIONS, STRATEGIES, TrainConfig
from mmsa_keras.app.jsonfiles import read_json, write_json, write_text
from mmsa_keras.app.plan import RunPlan
from mmsa_keras.custom_objects import load_trained_network
from mmsa_keras.errors import UsageError
from mmsa_keras.keras_compat import patch_multi_worker_reduction
from mmsa_keras.metrics import SparseF1
from mmsa_keras.models.base import PROBABILITIES


def gpu_available() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision: str = "auto") -> str:
    """`auto` → `mixed_float16` on a GPU, `float32` on a CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "mixed_float16" if gpu_available() else "float32"
    return precision


def resolve_strategy(strategy: str = "auto") -> tf.distribute.Strategy:
    """`auto` → MirroredStrategy when several GPUs are visible, else the default.

    `mirrored` → MirroredStrategy over all visible GPUs (or the logical CPU
    devices when there is no GPU); `multi_worker` → MultiWorkerMirroredStrategy
    configured by the `TF_CONFIG` environment variable (one process per
    worker, see the README); `none` → the default strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise UsageError("--strategy multi_worker needs TF_CONFIG (cluster and task) in the environment")
        patch_multi_worker_reduction()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if strategy == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    """Worker 0 of a multi-worker run (or the only process) writes the run directory."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type in ("chief", None) or (resolver.task_type == "worker" and resolver.task_id == 0)


def worker_task() -> tuple[str | None, int]:
    """(task type, index) of this process in a multi-worker cluster (TF_CONFIG), or (None, 0)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    except ValueError:
        raise UsageError("TF_CONFIG is not valid JSON") from None
    return task.get("type"), int(task.get("index", 0))


def training_objective(model: keras.Model, num_classes: int | None = None) -> dict:
    """The model's own `training_objective()` (or cross-entropy + accuracy), plus weighted and macro F1."""
    objective = (
        model.training_objective()
        if hasattr(model, "training_objective")
        else {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    )
    if num_classes:
        extra = [SparseF1(num_classes, "weighted"), SparseF1(num_classes, "macro")]
        metrics = objective.get("metrics")
        if isinstance(metrics, dict):
            metrics = {k: list(v) for k, v in metrics.items()}
            metrics.setdefault(PROBABILITIES, []).extend(extra)
        else:
            metrics = list(metrics or []) + extra
        objective = {**objective, "metrics": metrics}
    return objective


def build_compiled_metrics(model: keras.Model, dataset) -> None:
    """Create `compile()`'s metrics now, from the dataset's label spec and the model's outputs.

    Without a distribution strategy Keras builds them inside the first traced train step. Their
    variables (`accuracy`'s total and count) are then created during that trace, and TensorFlow's
    `tf.function` answers a trace that created variables by tracing the whole step again without
    them: a second trace of every layer and its gradient (about 4 s of the first fine-tuning step
    with ResNet-50 + MiniLM on 2 cores). Built here, the step is traced once.
    """
    metrics = getattr(model, "_compile_metrics", None)
    if metrics is None or metrics.built:
        return
    y_true = tf.nest.map_structure(lambda s: keras.KerasTensor(s.shape, s.dtype), dataset.element_spec[1])
    y_pred = tf.nest.map_structure(lambda t: keras.KerasTensor(t.shape, t.dtype), model.output)
    with model.distribute_strategy.scope():
        metrics.build(y_true, y_pred)


def labels_for(model: keras.Model, dataset):
    """Give every output that has a loss the integer labels (dict-output models)."""
    if not isinstance(model.output, dict):
        return dataset
    keys = list(model.output)
    return dataset.map(lambda *batch: (batch[0], {k: batch[1] for k in keys}, *batch[2:]))


class MonitorAlias(keras.callbacks.Callback):
    """Logs `val_accuracy`, `val_weighted_f1`, `val_macro_f1` under those names for every model.

    Dict-output models log `val_probabilities_accuracy`; early stopping and
    checkpointing name the short form.
    """

    NAMES = ("accuracy", "weighted_f1", "macro_f1")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            for name in self.NAMES:
                if f"{prefix}{name}" not in logs:
                    match = next(
                        (
                            k
                            for k in logs
                            if k.startswith(prefix) and k.endswith(f"_{name}") and (prefix or not k.startswith("val_"))
                        ),
                        None,
                    )
                    if match is not None:
                        logs[f"{prefix}{name}"] = logs[match]


class TrainingState(keras.callbacks.Callback):
    """Writes and restores everything a resumed run needs to continue bitwise (see the module docstring).

    `RUN_DIR/backup/epoch-NNNNN/` holds `state.json` (epoch, callback states),
    `variables.npz` (model, optimizer and best-weights arrays) and a checksum of
    each file; `backup/latest.json` names the newest complete generation and is
    replaced atomically, after which older generations but the previous one are
    deleted. Put this callback last, after EarlyStopping and ModelCheckpoint.
    """

    def __init__(self, directory: str, early_stopping=None, checkpoint=None, verbose: int = 1):
        super().__init__()
        self.directory = directory
        self.early_stopping = early_stopping
        self.checkpoint = checkpoint
        self.verbose = verbose
        self.restored: dict | None = None

    # ---------------------------------------------------------------- save
    def _arrays(self) -> dict[str, np.ndarray]:
        model = self.model
        arrays = {f"model_{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(self._model_variables(model))}
        for i, v in enumerate(model.optimizer.variables):
            arrays[f"optimizer_{i:05d}"] = np.asarray(v.numpy())
        es = self.early_stopping
        if es is not None and getattr(es, "best_weights", None) is not None:
            for i, w in enumerate(es.best_weights):
                arrays[f"best_{i:05d}"] = np.asarray(w)
        return arrays

    @staticmethod
    def _model_variables(model):
        return list(model.trainable_variables) + list(model.non_trainable_variables)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        name = f"epoch-{epoch + 1:05d}"
        target = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".{name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        es, ck = self.early_stopping, self.checkpoint
        state = {
            "epoch": epoch + 1,
            "early_stopping": None
            if es is None
            else {
                "wait": int(es.wait),
                "best": None if es.best is None else float(es.best),
                "best_epoch": int(es.best_epoch),
                "stopped_epoch": int(es.stopped_epoch),
                "has_best_weights": es.best_weights is not None,
            },
            "checkpoint_best": None if ck is None or ck.best is None else float(ck.best),
            "num_model_variables": len(self._model_variables(self.model)),
            "num_optimizer_variables": len(self.model.optimizer.variables),
        }
        np.savez(os.path.join(tmp, "variables.npz"), **self._arrays())
        with open(os.path.join(tmp, "state.json"), "w", encoding="utf-8") as f:
            json.dump(state, f)
        checksums = {n: file_digest(os.path.join(tmp, n)).hex() for n in ("variables.npz", "state.json")}
        with open(os.path.join(tmp, "checksums.json"), "w", encoding="utf-8") as f:
            json.dump(checksums, f)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        latest = os.path.join(self.directory, "latest.json")
        write_json(latest, {"generation": name, "epoch": epoch + 1})
        generations = sorted(glob.glob(os.path.join(self.directory, "epoch-*")))
        for old in generations[:-2]:
            shutil.rmtree(old, ignore_errors=True)

    # ---------------------------------------------------------------- restore
    def load(self, model) -> int:
        """Restore the newest valid generation into `model` (and its optimizer); returns the epoch to start at."""
        candidates = []
        latest = os.path.join(self.directory, "latest.json")
        try:
            candidates.append(read_json(latest)["generation"])
        except (OSError, ValueError, KeyError):
            pass
        for path in sorted(glob.glob(os.path.join(self.directory, "epoch-*")), reverse=True):
            if os.path.basename(path) not in candidates:
                candidates.append(os.path.basename(path))
        problems = []
        for name in candidates:
            directory = os.path.join(self.directory, name)
            try:
                epoch, state, arrays = self._read(directory)
                self._assign(model, state, arrays)
            except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
                problems.append(f"{name}: {e}")
                continue
            for p in problems:
                print(f"[mmsa] backup generation {p} — unusable, skipped", file=sys.stderr)
            if problems:
                print(f"[mmsa] resuming from the previous good backup ({name})", file=sys.stderr)
            self.restored = state
            return epoch
        if candidates:
            for p in problems:
                print(f"[mmsa] backup generation {p} — unusable", file=sys.stderr)
            print("[mmsa] no usable backup: the run starts again from epoch 1", file=sys.stderr)
        return 0

    @staticmethod
    def _read(directory: str):
        with open(os.path.join(directory, "checksums.json"), encoding="utf-8") as f:
            checksums = json.load(f)
        for name, digest in checksums.items():
            if file_digest(os.path.join(directory, name)).hex() != digest:
                raise ValueError(f"{name} does not match its checksum (truncated or changed)")
        with open(os.path.join(directory, "state.json"), encoding="utf-8") as f:
            state = json.load(f)
        with np.load(os.path.join(directory, "variables.npz")) as data:
            arrays = {k: data[k] for k in data.files}
        return int(state["epoch"]), state, arrays

    def _assign(self, model, state, arrays):
        variables = self._model_variables(model)
        if state["num_model_variables"] != len(variables):
            raise ValueError(
                f"the backup has {state['num_model_variables']} model variables, the model "
                f"{len(variables)}: was the model changed?"
            )
        optimizer = model.optimizer
        optimizer.build(model.trainable_variables)
        if state["num_optimizer_variables"] != len(optimizer.variables):
            raise ValueError("the backup's optimizer state does not match the optimizer")
        for i, v in enumerate(variables):
            value = arrays[f"model_{i:05d}"]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f"variable {v.path}: shape {value.shape} in the backup, {tuple(v.shape)} now")
            v.assign(value)
        for i, v in enumerate(optimizer.variables):
            v.assign(arrays[f"optimizer_{i:05d}"])
        best = sorted(k for k in arrays if k.startswith("best_"))
        self._best_weights = [arrays[k] for k in best] if best else None

    def on_train_begin(self, logs=None):
        """Put the restored callback states back after their own `on_train_begin` reset them."""
        if self.restored is None:
            return
        es, ck = self.early_stopping, self.checkpoint
        saved = self.restored.get("early_stopping")
        if es is not None and saved is not None:
            es.wait, es.best_epoch, es.stopped_epoch = saved["wait"], saved["best_epoch"], saved["stopped_epoch"]
            es.best = saved["best"]
            es.best_weights = self._best_weights if saved["has_best_weights"] else None
        if ck is not None and self.restored.get("checkpoint_best") is not None:
            ck.best = self.restored["checkpoint_best"]


def truncate_history(path: str, epochs: int) -> None:
    """Keep the whole rows of the first `epochs` epochs of a CSVLogger file: rows of an epoch whose backup
    never finished go, and so does a row cut mid-line (a process killed while writing it)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines = text.splitlines()
    if not lines or not lines[0].startswith("epoch"):
        os.remove(path)  # no usable header: the resumed run writes a new file
        return
    width = len(lines[0].split(","))
    kept = [lines[0]]
    for i, line in enumerate(lines[1:], start=1):
        fields = line.split(",")
        whole = len(fields) == width and (i < len(lines) - 1 or text.endswith("\n"))
        if not (whole and fields[0].isdigit() and int(fields[0]) < epochs):
            break  # the rows after a torn or later one are not kept
        kept.append(line)
    if len(kept) - 1 < len(lines) - 1:
        print(f"[mmsa] {path}: kept the {len(kept) - 1} whole epoch rows before the resumed epoch", file=sys.stderr)
    write_text(path, "\n".join(kept) + "\n")


def make_callbacks(plan: RunPlan, run_dir: str, config: TrainConfig, chief: bool = True) -> dict:
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    mode = "min" if plan.stopping.monitor == "val_loss" else "max"
    out: dict[str, Any] = {"alias": MonitorAlias()}
    if plan.stopping.early_stopping:
        out["early_stopping"] = keras.callbacks.EarlyStopping(
            monitor=plan.stopping.monitor,
            mode=mode,
            patience=plan.stopping.patience,
            restore_best_weights=True,
            verbose=int(config.verbose > 0),
        )
    checkpoint_dir = (
        os.path.join(run_dir, "checkpoints")
        if chief
        else os.path.join(run_dir, f".worker{worker_task()[1]}_checkpoints")
    )
    out["checkpoint"] = keras.callbacks.ModelCheckpoint(
        os.path.join(checkpoint_dir, "best.weights.h5"),
        monitor=plan.stopping.monitor,
        mode=mode,
        save_best_only=True,
        save_weights_only=True,
    )
    if chief:
        out["csv"] = keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True)
    if config.tensorboard and chief:
        out["tensorboard"] = keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"))
    worker = worker_task()[1]
    backup = os.path.join(run_dir, runs.BACKUP_DIR) if chief else os.path.join(run_dir, f".worker{worker}_backup")
    out["state"] = TrainingState(backup, out.get("early_stopping"), out["checkpoint"], config.verbose)
    return out


def init_weights_from(model: keras.Model, path: str) -> list[str]:
    """Give every layer of `model` the weights of the same-named layer of the model at `path` when
    their shapes agree (paper 003 Table 9: the best classical model's layers below its softmax).
    Returns the names of the layers that were set."""
    source = load_trained_network(path)
    copied = []
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        theirs = other.get_weights()
        if [w.shape for w in theirs] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(theirs)
            copied.append(layer.name)
    if not copied:
        raise UsageError(f"--init-from {path}: no layer of it matches a layer of this model by name and shape")
    return copied


def copy_head_weights(head: keras.Model, model: keras.Model, into_source: bool = False) -> int:
    """Copy every weighted layer of the feature-mode `head` into the same-named layer of the
    raw-mode `model` (or the other way round with `into_source`)."""
    copied = 0
    for layer in head.layers:
        if layer.weights:
            other = model.get_layer(layer.name)
            if into_source:
                layer.set_weights(other.get_weights())
            else:
                other.set_weights(layer.get_weights())
            copied += 1
    return copied
