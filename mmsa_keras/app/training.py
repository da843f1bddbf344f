"""Compile + fit glue: precision, strategy, optimiser, feature mode, callbacks, exact resume.

`train(TrainConfig(...))` is what `mmsa train` runs: resolve the settings into
a `RunPlan` (every check happens before any data is read), take the run
directory's lock, read and split the data, check every image, fit the
`Preprocessor` on the training split, build the registered model under the
chosen strategy and precision, fit it, evaluate it and save everything in the
run directory (layout in `mmsa_keras.app.runs`).

Resuming: at the end of every epoch `TrainingState` writes everything the rest
of the run depends on — model and optimizer variables (dropout RNG states
included), the early-stopping and checkpoint state (best value, wait count,
best weights) — as a new backup generation, keeping the previous one until the
new one is complete. The input streams draw epoch e's order and augmentation
from (seed, e) alone. Running the same command again after an interruption
therefore ends with the same weights as an uninterrupted run (bitwise on a
CPU). A corrupt or truncated backup is reported and the previous generation
(or a fresh start) is used instead.

Feature mode: when every encoder is pretrained and frozen (and nothing needs
raw images), the encoders run once over all posts into the shared feature store
(`data_pipelines.features`) and the head trains on the stored outputs; the
saved `model.keras` is the raw-mode model (encoders + the trained head, whose
weights are copied by layer name), so evaluation, export and serving take raw
posts as usual.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from data_pipelines.duplicates import drop_from_train, find_duplicates, format_counts, hashes_from_cache
from data_pipelines.features import StoredFeatures, extract_features, feature_stream
from data_pipelines.image_cache import ImageCache, default_image_cache_dir
from data_pipelines.outputs import claim_output_dir
from data_pipelines.pipeline import Preprocessor, class_weights_for
from data_pipelines.post import BALANCED_WEIGHTS, MultimodalDataset
from data_pipelines.report import DataReport
from mmsa_keras.app import runs
from mmsa_keras.app.builders import build_encoders, build_model, encoder_arguments, make_preprocessor
from mmsa_keras.app.config import PRECISIONS, STRATEGIES, TrainConfig
from mmsa_keras.app.evaluation import plot_history, predict_dataset
from mmsa_keras.app.jsonfiles import read_json, write_json, write_text
from mmsa_keras.app.plan import RunPlan, make_plan
from mmsa_keras.calibration import apply_temperature, fit_temperature, with_temperature
from mmsa_keras.custom_objects import fast_keras_saving, load_trained_network, model_file_ok
from mmsa_keras.encoders import standardized_encoder
from mmsa_keras.errors import DataError, RunError, UsageError
from mmsa_keras.keras_compat import patch_multi_worker_reduction
from mmsa_keras.metrics import SparseF1
from mmsa_keras.models.base import PROBABILITIES
from mmsa_keras.models.tfidf_ensemble import fit_tfidf_classifier, with_tfidf
from mmsa_keras.optimizers import make_optimizer

__all__ = ["PRECISIONS", "STRATEGIES", "TrainConfig", "TrainingState", "resolve_precision", "resolve_strategy", "train"]


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


# ============================================================================ objective
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


# ============================================================================ exact resume
def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        checksums = {n: _digest(os.path.join(tmp, n)) for n in ("variables.npz", "state.json")}
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
            if _digest(os.path.join(directory, name)) != digest:
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


# ============================================================================ callbacks
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


# ============================================================================ data
def _image_cache(plan: RunPlan, dataset, verbose: bool):
    """Decode every image once (raw mode and extraction): `ImageCache` or None when there are no images."""
    if "image" not in plan.modalities:
        return None
    posts = [p for p in dataset.all_posts() if p.image_path]
    if not posts:
        return None
    return ImageCache.build(
        posts,
        plan.preprocessing.image_size,
        default_image_cache_dir(),
        verbose=verbose,
        source_size=plan.preprocessing.source_size,
    )


def extract_run_features(
    plan: RunPlan, preprocessor: Preprocessor, dataset, encoders: dict, verbose: bool, image_cache=None
) -> dict:
    """Run the frozen encoders once over every post of the dataset (shared feature store)."""
    posts = dataset.all_posts()
    out = {}
    for m, enc in encoders.items():
        spec = {"name": plan.encoders[m].name, **encoder_arguments(plan.encoders[m], preprocessor)}
        out[m] = extract_features(
            enc,
            m,
            posts,
            preprocessor,
            plan.feature_store,
            batch_size=max(plan.batch_size, 32),
            sequences=plan.uses_sequences,
            verbose=verbose,
            encoder_spec=spec,
            image_cache=image_cache,
        )
    return out


def standardize_stored(plan: RunPlan, stored: StoredFeatures, encoders: dict, train_posts, verbose: bool):
    """Standardise the stored features of `plan.standardized_modalities` with training-split statistics.

    The feature sets become views that read `(x - mean) / std`, and the
    encoders are wrapped with the same fixed transform (`standardized_encoder`),
    so the saved raw-input model computes what the head was trained on. Returns the standardised
    `StoredFeatures` (and replaces the encoders in `encoders`).
    """
    for m in plan.standardized_modalities:
        names = ["pooled_output"] + (["feature_map"] if plan.uses_sequences else [])
        names = [n for n in names if n in stored.get(m).names]
        stats = stored.get(m).statistics([p.id for p in train_posts], names)
        stored = stored.replace(**{m: stored.get(m).standardized(stats)})
        encoders[m] = standardized_encoder(encoders[m], stats)
        if verbose:
            spread = ", ".join(
                f"{n}: mean {float(mean.mean()):.3g}, std {float(std.mean()):.3g} (channel averages)"
                for n, (mean, std) in stats.items()
            )
            print(f"[plan] {m} features standardised with the training split's statistics ({spread})", flush=True)
    return stored


def feature_shapes(plan: RunPlan, stored: StoredFeatures) -> dict:
    shapes = {}
    for m, fs in stored.items():
        if plan.uses_sequences and m == "text":
            # any length: the stored token states arrive cut to each batch's longest caption (`feature_stream`)
            shapes["text_feature_shape"] = (None, *fs.shape("sequence_output")[1:])
        elif plan.uses_sequences:
            shapes[f"{m}_feature_shape"] = fs.shape("feature_map")
        else:
            shapes[f"{m}_feature_shape"] = fs.shape(plan.text_feature if m == "text" else "pooled_output")
    return shapes


def _check_duplicates(plan: RunPlan, dataset, image_cache, resuming: bool, verbose: bool):
    """Count duplicate posts within and across the run's splits (`data_pipelines.duplicates`; images when the
    run decodes them); with `--dedup drop-from-train`, drop training posts that duplicate another split's
    (a resumed run keeps its saved splits). Returns `(dataset, counts)`."""
    labelled = {name: dataset.labelled(name) for name in dataset.splits}
    hashes = hashes_from_cache(image_cache, [p for ps in labelled.values() for p in ps]) if image_cache else None
    result = find_duplicates(labelled, hashes)
    if verbose and result["pairs"]:
        print(format_counts(result), flush=True)
    if plan.data.dedup == "drop-from-train" and not resuming:
        splits, dropped = drop_from_train(dict(dataset.splits), result)
        note = (
            f"--dedup drop-from-train: {len(dropped)} training posts that duplicate a validation or test post "
            "were removed from training"
        )
        dataset = MultimodalDataset(dataset.name, dataset.class_names, splits, dataset.notes + [note])
    return dataset, {**result["counts"], "image_checked": bool(hashes)}


def _class_weight_spec(plan: RunPlan, class_names) -> Any:
    if not plan.class_weight or plan.class_weight in BALANCED_WEIGHTS:
        return plan.class_weight
    try:
        with open(plan.class_weight, encoding="utf-8") as f:
            given = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"--class-weight {plan.class_weight}: {e}") from None
    unknown = sorted(set(given) - set(class_names))
    if unknown:
        raise UsageError(
            f"--class-weight {plan.class_weight}: unknown classes {unknown} (classes: {', '.join(class_names)})"
        )
    return [float(given.get(name, 1.0)) for name in class_names]


# ============================================================================ train
def worker_task() -> tuple[str | None, int]:
    """(task type, index) of this process in a multi-worker cluster (TF_CONFIG), or (None, 0)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    except ValueError:
        raise UsageError("TF_CONFIG is not valid JSON") from None
    return task.get("type"), int(task.get("index", 0))


@dataclasses.dataclass
class TrainResult:
    """What `train()` returns: the run folder, its resolved plan and how the trained model scored."""

    run_dir: str
    plan: RunPlan
    #: False when the folder already held this trained model (it was evaluated, not retrained)
    trained: bool
    #: the test split's metrics (the validation split's when the run has no test split)
    metrics: dict | None = None
    #: every evaluated split's metrics, by split name
    all_metrics: dict = dataclasses.field(default_factory=dict)
    #: what the reader found (counts of bad input by kind)
    data_report: dict | None = None
    #: Keras's history (one list per metric, one value per epoch)
    history: dict = dataclasses.field(default_factory=dict)
    train_seconds: float | None = None
    epochs_run: int = 0
    #: False for a multi-worker run's non-chief worker (which writes no run folder)
    chief: bool = True

    @property
    def feature_mode(self) -> bool:
        return self.plan.feature_mode


def train(config: TrainConfig, extra_callbacks=None) -> TrainResult:
    """Train (or resume) one run; returns its `TrainResult` (the run folder, the plan, the metrics)."""
    plan = make_plan(config)
    run_dir = config.out
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UsageError(f"--out {run_dir} is a file, not a folder")
    claim_output_dir(run_dir, "run")  # a new, empty or earlier run folder; anything else is refused
    if plan.strategy == "multi_worker":
        task_type, index = worker_task()
        if task_type == "worker" and index > 0:  # not the chief: trains in step, writes nothing of the run
            os.makedirs(run_dir, exist_ok=True)
            with runs.RunLock(run_dir, name=f".lock-worker{index}"):
                return _train_locked(config, plan, run_dir, resuming=False, extra_callbacks=extra_callbacks)
    state = runs.run_state(run_dir)
    if state == "complete" and not model_file_ok(os.path.join(run_dir, runs.MODEL_FILE)):
        print(f"[mmsa] {os.path.join(run_dir, runs.MODEL_FILE)} is damaged or cut short: the run trains again")
        config = config.replace(force=True)
    if state != "new" and not config.force:
        saved = (
            read_json(os.path.join(run_dir, runs.RUN_CONFIG)).get("config")
            if os.path.exists(os.path.join(run_dir, runs.RUN_CONFIG))
            else None
        )
        changed = runs.changed_settings(saved or {}, config.to_dict()) if saved is not None else ["(unknown)"]
        if changed:
            what = "a trained model" if state == "complete" else "an interrupted run"
            raise RunError(
                f"{run_dir} holds {what} with other settings ({'; '.join(changed[:4])}"
                f"{'; ...' if len(changed) > 4 else ''}); use --force to start afresh, or another --out"
            )
        if state == "complete":
            run = runs.Run(run_dir)
            if config.verbose:
                print(f"{run_dir} already holds this trained model; evaluating it (--force retrains)")
            metrics = {
                s: run.evaluate(s, verbose=config.verbose)
                for s in ("validation", "test")
                if s in run.dataset(verbose=bool(config.verbose)).splits
                and run.dataset(verbose=bool(config.verbose)).labelled(s)
            }
            return TrainResult(
                run_dir,
                plan,
                trained=False,
                metrics=metrics.get("test", metrics.get("validation")),
                all_metrics=metrics,
            )
    os.makedirs(run_dir, exist_ok=True)
    with runs.RunLock(run_dir):
        if config.force:
            runs.clear_run(run_dir)
            state = "new"
        return _train_locked(config, plan, run_dir, resuming=(state == "interrupted"), extra_callbacks=extra_callbacks)


def _train_locked(config: TrainConfig, plan: RunPlan, run_dir: str, resuming: bool, extra_callbacks) -> TrainResult:
    verbose = bool(config.verbose)
    if verbose:
        for line in plan.describe():
            print(f"[plan] {line}", flush=True)
    strategy = resolve_strategy(plan.strategy)  # first: multi-worker collectives are set up at start-up
    keras.utils.set_random_seed(plan.seed)
    policy = resolve_precision(plan.precision)
    previous_policy = keras.mixed_precision.global_policy()
    chief = is_chief(strategy)
    report = DataReport(max_messages=10 if verbose else 0)
    dataset, image_cache, duplicates = _run_data(plan, run_dir, resuming, report, chief, verbose)
    preprocessor = _run_preprocessor(plan, run_dir, resuming, dataset, image_cache, chief, verbose)
    class_weights = class_weights_for(
        dataset.labelled("train"), dataset.num_classes, _class_weight_spec(plan, dataset.class_names)
    )
    if chief:
        record = _run_record(config, plan, policy, strategy, dataset, duplicates, class_weights)
        write_json(os.path.join(run_dir, runs.RUN_CONFIG), record)

    start = time.time()
    train_posts = dataset.labelled("train")
    try:
        keras.mixed_precision.set_global_policy(policy)
        with strategy.scope():
            built = _build_for_training(
                config, plan, dataset, preprocessor, resuming, verbose, strategy.num_replicas_in_sync
            )
        fast_keras_saving()  # the per-epoch checkpoints save too
        callbacks = make_callbacks(plan, run_dir, config, chief)
        initial_epoch = _resume_point(plan, run_dir, resuming, callbacks["state"], built.head, verbose)
        streams = _training_streams(
            plan, built, preprocessor, dataset, class_weights, image_cache, initial_epoch, strategy.num_replicas_in_sync
        )
        history = _fit(plan, built.head, streams, initial_epoch, callbacks, extra_callbacks, verbose)
        model, head = built.model, built.head
        if head is not model:
            copy_head_weights(head, model)
        if plan.tfidf_weight is not None:
            model = head = attach_tfidf(model, plan, train_posts, dataset.num_classes, run_dir, chief, verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    train_seconds = time.time() - start
    if not chief:  # a worker's own state is of no use once the run is done
        for name in (f".worker{worker_task()[1]}_backup", f".worker{worker_task()[1]}_checkpoints"):
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
        return TrainResult(run_dir, plan, trained=True, chief=False, history=history.history)
    predictions = _split_predictions(plan, model, head, preprocessor, dataset, built.stored, image_cache)
    temperature = None
    if plan.calibrate and "validation" in predictions:
        model, temperature = calibrate(model, predictions["validation"], run_dir, verbose)
    # written while the run is evaluated and plotted (the save is mostly I/O); complete before train() returns
    saving = BackgroundSave(model, os.path.join(run_dir, runs.MODEL_FILE))
    try:
        summary = _finish_run(config, plan, run_dir, model, preprocessor, dataset, report, predictions, temperature)
    finally:
        saving.join()
    shutil.rmtree(os.path.join(run_dir, runs.BACKUP_DIR), ignore_errors=True)  # complete: nothing to resume
    summary = dataclasses.replace(
        summary,
        history=history.history,
        train_seconds=train_seconds,
        epochs_run=len(history.history.get("loss", [])),
    )
    return summary


def _run_data(plan: RunPlan, run_dir: str, resuming: bool, report, chief: bool, verbose: bool):
    """The run's dataset with its splits (the saved ones when resuming), the image cache of raw mode and
    the duplicate counts; the splits and the data fingerprint are written (a resumed run's data checked)."""
    splits_file = os.path.join(run_dir, "splits.json")
    dataset = runs.load_split_data(
        plan.data.data_dir,
        plan.data.format,
        plan.data.split_seed,
        report,
        splits_file=splits_file if resuming else plan.data.split_ids,
        format_options=plan.data.reader_options,
        verbose=verbose,
        holdout_fraction=plan.data.holdout_fraction,
        train_on_holdout=plan.data.train_on_holdout,
        test_split=plan.data.test_split,
    )
    # raw mode decodes every image once into the cache; feature mode only if features must be extracted
    image_cache = None if "image" in plan.stored_modalities else _image_cache(plan, dataset, verbose)
    dataset, duplicates = _check_duplicates(plan, dataset, image_cache, resuming, verbose)
    if verbose:
        for note in dataset.notes:  # how the posts were split (the reader's, the run's), said before training
            print(f"[data] {note}", flush=True)
    for split in ("train", "validation"):
        if not dataset.labelled(split):
            raise DataError(f"{plan.data.data_dir}: the {split} split has no labelled posts")
    fingerprint = runs.data_fingerprint(dataset)
    fingerprint_file = os.path.join(run_dir, runs.FINGERPRINT_FILE)
    if resuming and os.path.exists(fingerprint_file):
        change = runs.fingerprint_changes(read_json(fingerprint_file), fingerprint)
        if change:
            raise RunError(
                f"{plan.data.data_dir} changed since {run_dir} started ({change}); resuming would mix two "
                "datasets: restore the data, or add --force to start the run afresh"
            )
    if chief:
        runs.save_splits(splits_file, dataset)
        write_json(fingerprint_file, fingerprint)
    return dataset, image_cache, duplicates


def _run_preprocessor(plan: RunPlan, run_dir: str, resuming: bool, dataset, image_cache, chief: bool, verbose: bool):
    """The saved preprocessor when resuming, else one fitted on the training split (and saved)."""
    if resuming and os.path.exists(os.path.join(run_dir, "preprocessing.json")):
        return Preprocessor.load(run_dir)
    preprocessor = make_preprocessor(plan.preprocessing)
    preprocessor.fit(dataset.labelled("train"), verbose=verbose, image_cache=image_cache)
    if chief:
        preprocessor.save(run_dir)
    return preprocessor


def _run_record(config, plan, policy, strategy, dataset, duplicates, class_weights) -> dict:
    """`run_config.json`: the settings as given and as resolved, and what the run found in its data."""
    return {
        "config": config.to_dict(),
        "plan": plan.to_dict(),
        "precision_used": policy,
        "strategy_used": type(strategy).__name__,
        "feature_mode_used": plan.feature_mode,
        "class_names": list(dataset.class_names),
        "dataset_name": dataset.name,
        "dataset_summary": dataset.summary(),
        "dataset_notes": list(dataset.notes),
        "duplicates": duplicates,
        "encoders_used": {m: e.describe() for m, e in plan.encoders.items()},
        "class_weights": None if class_weights is None else [float(w) for w in class_weights],
        "mmsa_keras_version": __import__("mmsa_keras").__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


@dataclasses.dataclass
class BuiltRun:
    """What `_build_for_training` makes: the saved `model`, the `head` that trains (the model itself, or
    its copy over stored features), the encoders and the stored features."""

    model: keras.Model
    head: keras.Model
    encoders: dict
    stored: StoredFeatures


def _build_for_training(config, plan: RunPlan, dataset, preprocessor, resuming: bool, verbose: bool, replicas: int):
    """Encoders, stored features, the model and its training head, compiled (inside the strategy's scope)."""
    train_posts = dataset.labelled("train")
    encoders = build_encoders(plan, preprocessor)
    for m in plan.stored_modalities:  # composed of trained models: store their (fine-tuned) encoders
        source = plan.model_overrides.get(f"{m}_model")
        if isinstance(source, str) and source.endswith(".keras"):
            encoders[m] = getattr(load_trained_network(source), f"{m}_encoder", None) or encoders[m]
    stored = StoredFeatures(text_feature=plan.text_feature, sequences=plan.uses_sequences)
    if plan.stored_modalities:
        sets = extract_run_features(
            plan,
            preprocessor,
            dataset,
            {m: encoders[m] for m in plan.stored_modalities},
            verbose,
            lambda: _image_cache(plan, dataset, verbose),
        )
        stored = standardize_stored(plan, stored.replace(**sets), encoders, train_posts, verbose)
    model = build_model(plan, dataset.num_classes, preprocessor, encoders=encoders)
    head = model
    if plan.stored_modalities:
        # the head: stored features for frozen encoders, the same (shared) trainable encoders otherwise
        head = build_model(
            plan, dataset.num_classes, preprocessor, encoders=encoders, feature_shapes=feature_shapes(plan, stored)
        )
        copy_head_weights(head, model, into_source=True)  # start from the raw model's init
    optimizer = _run_optimizer(plan, encoders, len(train_posts), dataset.num_classes, replicas)
    if plan.init_from and not resuming:
        copied = init_weights_from(head, plan.init_from)
        if verbose:
            print(f"[plan] started from {plan.init_from}: {len(copied)} layers ({', '.join(copied)})", flush=True)
    head.compile(optimizer=optimizer, run_eagerly=config.run_eagerly, **training_objective(head, dataset.num_classes))
    # the optimizer's slots, created now (eagerly) rather than while the first step is traced: 6x faster
    head.optimizer.build(head.trainable_variables)
    return BuiltRun(model, head, encoders, stored)


def _run_optimizer(plan: RunPlan, encoders: dict, n_train: int, num_classes: int, replicas: int):
    """The plan's optimizer, its schedule spread over the run's total steps; the trainable encoders' variables
    get the encoder learning rate (and layer decay)."""
    balance = plan.preprocessing.balance_to
    n_train = balance * num_classes if balance else n_train
    drop = replicas > 1
    steps_per_epoch = max(1, (n_train // plan.batch_size) if drop else -(-n_train // plan.batch_size))
    encoder_vars = [v for m, e in encoders.items() if m not in plan.stored_modalities for v in e.trainable_variables]
    o = plan.optimizer
    return make_optimizer(
        o.name,
        o.learning_rate,
        plan.stopping.epochs * steps_per_epoch,
        o.warmup_steps,
        o.schedule,
        o.weight_decay,
        o.momentum,
        encoder_vars,
        o.encoder_learning_rate,
        o.layer_decay,
    )


def _resume_point(plan: RunPlan, run_dir: str, resuming: bool, state, head, verbose: bool) -> int:
    """The epoch training starts after: the saved state's when resuming (history cut to it), else 0."""
    history = os.path.join(run_dir, "history.csv")
    if not resuming:
        if os.path.exists(history):
            os.remove(history)
        return 0
    initial_epoch = state.load(head)
    truncate_history(history, initial_epoch)
    if verbose and initial_epoch:
        print(f"Resuming {run_dir} after epoch {initial_epoch} of {plan.stopping.epochs}", flush=True)
    return initial_epoch


@dataclasses.dataclass
class Streams:
    """The training and validation input streams of a run, with their steps per epoch."""

    train: Any
    steps: int
    validation: Any
    validation_steps: int


def _training_streams(plan, built, preprocessor, dataset, class_weights, image_cache, initial_epoch, replicas):
    """The epoch-seeded training stream (from `initial_epoch`) and the unshuffled, repeated validation stream,
    from stored features (feature mode) or raw posts; labels shaped for the head's outputs."""
    head, stored = built.head, built.stored
    train_posts, val_posts = dataset.labelled("train"), dataset.labelled("validation")
    drop = replicas > 1
    names = list(head.input)
    shuffled = dict(
        seed=plan.seed,
        epochs=plan.stopping.epochs,
        initial_epoch=initial_epoch,
        shuffle=True,
        class_weights=class_weights,
        balance_to=plan.preprocessing.balance_to,
        drop_remainder=drop,
    )
    if plan.feature_mode:
        train_ds, steps = feature_stream(train_posts, stored, batch_size=plan.batch_size, input_names=names, **shuffled)
        val_ds, val_steps = feature_stream(
            val_posts, stored, batch_size=plan.batch_size, drop_remainder=drop, input_names=names
        )
    else:
        raw = dict(input_names=names, image_cache=image_cache, stored=None if stored.empty else stored)
        train_ds, steps = preprocessor.stream(
            train_posts, plan.batch_size, augment=plan.preprocessing.augment, **shuffled, **raw
        )
        val_batch = plan.batch_size
        if drop:  # whole batches that split evenly; the final evaluation sees every post
            val_batch = max(replicas, min(plan.batch_size, len(val_posts) // replicas * replicas))
        val_ds, val_steps = preprocessor.stream(val_posts, val_batch, shuffle=False, drop_remainder=drop, **raw)
    # unshuffled, so every evaluation sees the same batches whether or not Keras re-creates the iterator
    val_ds = val_ds.repeat()
    return Streams(labels_for(head, train_ds), steps, labels_for(head, val_ds), val_steps)


def _fit(plan: RunPlan, head, streams: Streams, initial_epoch: int, callbacks: dict, extra_callbacks, verbose: bool):
    """`head.fit` over the streams with the run's callbacks (nothing to fit: an empty history)."""
    fit_verbose = 0 if not verbose else (1 if sys.stdout.isatty() else 2)
    # the epoch line is printed first, before MonitorAlias adds short names: each metric shows once
    progress = [keras.callbacks.ProgbarLogger()] if fit_verbose else []
    fit_callbacks = (
        progress
        + [callbacks[k] for k in ("alias", "early_stopping", "checkpoint", "csv", "tensorboard") if k in callbacks]
        + list(extra_callbacks or [])
        + [callbacks["state"]]
    )
    if not head.trainable_weights:  # e.g. late fusion of trained, frozen baselines: nothing to fit
        if verbose:
            print(f"{plan.model} has no trainable weights: it is evaluated as composed", flush=True)
        history = keras.callbacks.History()
        history.history = {}
        return history
    build_compiled_metrics(head, streams.train)
    return head.fit(
        streams.train,
        validation_data=streams.validation,
        epochs=plan.stopping.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=streams.steps,
        validation_steps=streams.validation_steps,
        shuffle=False,
        callbacks=fit_callbacks,
        verbose=fit_verbose,
    )


def attach_tfidf(model, plan: RunPlan, train_posts, num_classes: int, run_dir: str, chief: bool, verbose: bool):
    """The trained `model` ensembled with a TF-IDF classifier fitted on its training captions
    (`mmsa_keras.models.tfidf_ensemble`); what was fitted goes to `RUN/tfidf.json`."""
    layer, info = fit_tfidf_classifier(
        [p.text or "" for p in train_posts], [p.label for p in train_posts], num_classes, seed=plan.seed
    )
    info["weight"] = plan.tfidf_weight
    if verbose:
        print(
            f"[tfidf] logistic regression on {info['posts']} training captions ({info['vocabulary']} n-grams, "
            f"C={info['C']:g} by 5-fold log-loss); output {1 - plan.tfidf_weight:g} x model + "
            f"{plan.tfidf_weight:g} x TF-IDF",
            flush=True,
        )
    if chief:
        write_json(os.path.join(run_dir, "tfidf.json"), info)
    return with_tfidf(model, layer, plan.tfidf_weight)


class BackgroundSave:
    """`model.save(path)` in a thread, written to a temporary name and renamed when complete.

    Keras' saving state is per thread (`fast_keras_saving` is applied in the
    thread); the model must not change until `join()`, which re-raises any error
    of the save.
    """

    def __init__(self, model, path: str):
        self._error: BaseException | None = None
        stem = os.path.splitext(os.path.basename(path))[0]
        self._tmp = os.path.join(os.path.dirname(path), f".{stem}.{os.getpid()}.keras")  # Keras wants .keras
        self._path = path
        self._thread = threading.Thread(target=self._run, args=(model,), name="mmsa-save", daemon=True)
        self._thread.start()

    def _run(self, model) -> None:
        try:
            fast_keras_saving()
            model.save(self._tmp)
            os.replace(self._tmp, self._path)
        except BaseException as e:  # handed to join()
            self._error = e
            if os.path.exists(self._tmp):
                os.remove(self._tmp)

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _split_predictions(plan, model, head, preprocessor, dataset, stored: StoredFeatures, image_cache) -> dict:
    """`{split: (y_true, y_prob)}` of the trained network on its validation and test posts (feature mode: the
    head on the stored features, the same outputs without an encoder pass)."""
    out = {}
    for split in ("validation", "test"):
        posts = dataset.labelled(split) if split in dataset.splits else []  # --no-test-split: none
        if not posts:
            continue
        if plan.feature_mode:
            ds, _ = feature_stream(posts, stored, 64, input_names=list(head.input))
            out[split] = predict_dataset(head, ds, verbose=0)
        elif not stored.empty:
            ds, _ = preprocessor.stream(
                posts, 64, shuffle=False, input_names=list(head.input), image_cache=image_cache, stored=stored
            )
            out[split] = predict_dataset(head, ds, verbose=0)
        else:
            ds, _ = preprocessor.stream(
                posts, 64, shuffle=False, input_names=list(model.input), image_cache=image_cache
            )
            out[split] = predict_dataset(model, ds, verbose=0)
    return out


def calibrate(model, validation, run_dir: str, verbose: bool):
    """Fit one temperature on the validation predictions; the model that applies it, and the temperature
    (kept in `RUN/calibration.json`; `mmsa_keras.calibration`)."""
    y_true, y_prob = validation
    temperature = fit_temperature(y_prob, y_true)
    write_json(
        os.path.join(run_dir, "calibration.json"),
        {"temperature": temperature, "fitted_on": "validation", "posts": int(len(y_true))},
    )
    if verbose:
        print(f"[calibration] temperature {temperature:.3f}, fitted on {len(y_true)} validation posts", flush=True)
    return with_temperature(model, temperature), temperature


def _finish_run(config, plan, run_dir, model, preprocessor, dataset, report, predictions, temperature) -> TrainResult:
    """The end of a chief's run: data report, training curves, validation and test metrics (calibrated, with
    the figures before calibration and a reliability diagram beside them)."""
    verbose = bool(config.verbose)
    report.save(os.path.join(run_dir, "data_report.json"))
    plot_history(
        os.path.join(run_dir, "history.csv"),
        os.path.join(run_dir, "training_curves.png"),
        f"{plan.model} on {dataset.name}: training curves",
    )
    run = runs.Run(run_dir)
    run._model, run._preprocessor, run._dataset = model, preprocessor, dataset
    metrics = {}
    for split, (y_true, y_prob) in predictions.items():  # the run's model applies the temperature: so do these
        y_prob = y_prob if temperature is None else apply_temperature(y_prob, temperature)
        metrics[split] = run.evaluate(split, verbose=config.verbose, predictions=(y_true, y_prob), dataset=dataset)
    if verbose:
        print(report.summary())
    return TrainResult(
        run_dir,
        plan,
        trained=True,
        metrics=metrics.get("test", metrics.get("validation")),
        all_metrics=metrics,
        data_report=report.counts(),
    )
