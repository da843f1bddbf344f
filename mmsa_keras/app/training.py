"""One training run from settings to a finished run folder: `train(config)`.

`train(TrainConfig(...))` is what `mmsa train` runs: resolve the settings into
a `RunPlan` (every check happens before any data is read), take the run
directory's lock, read and split the data, check every image, fit the
`Preprocessor` on the training split, build the registered model under the
chosen strategy and precision, fit it, evaluate it and save everything in the
run directory (layout in `mmsa_keras.app.runs`).

Fitting and exact resume (`TrainingState`, the callbacks) are in `mmsa_keras.app.fitting`; the
predictions, blend, calibration and background save after the fit in `mmsa_keras.app.finishing`;
the epoch-seeded input streams in `data_pipelines.batching`.

Feature mode: when every encoder is pretrained and frozen (and nothing needs
raw images), the encoders run once over all posts into the shared feature store
(`data_pipelines.features`) and the head trains on the stored outputs; the
saved `model.keras` is the raw-mode model (encoders + the trained head, whose
weights are copied by layer name), so evaluation, export and serving take raw
posts as usual.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from typing import Any

import keras

from data_pipelines.duplicates import drop_from_train, find_duplicates, format_counts, hashes_from_cache
from data_pipelines.features import StoredFeatures, extract_features, feature_stream
from data_pipelines.image_cache import ImageCache, default_image_cache_dir
from data_pipelines.outputs import claim_output_dir
from data_pipelines.pipeline import Preprocessor, class_weights_for
from data_pipelines.post import BALANCED_WEIGHTS, MultimodalDataset
from data_pipelines.report import DataReport
from mmsa_keras.app import runs
from mmsa_keras.app.builders import build_encoders, build_model, encoder_arguments, make_preprocessor
from mmsa_keras.app.config import TrainConfig
from mmsa_keras.app.finishing import BackgroundSave, TrainResult, attach_tfidf, calibrate, finish_run, split_predictions
from mmsa_keras.app.fitting import (
    build_compiled_metrics,
    copy_head_weights,
    init_weights_from,
    is_chief,
    labels_for,
    make_callbacks,
    resolve_precision,
    resolve_strategy,
    training_objective,
    truncate_history,
    worker_task,
)
from mmsa_keras.app.jsonfiles import read_json, write_json
from mmsa_keras.app.plan import RunPlan, make_plan
from mmsa_keras.custom_objects import fast_keras_saving, load_trained_network, model_file_ok
from mmsa_keras.encoders import standardized_encoder
from mmsa_keras.errors import DataError, RunError, UsageError
from mmsa_keras.optimizers import make_optimizer

__all__ = ["TrainConfig", "TrainResult", "train"]


# ============================================================================ objective


# ============================================================================ exact resume


# ============================================================================ callbacks


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
    predictions = split_predictions(plan, model, head, preprocessor, dataset, built.stored, image_cache)
    temperature = None
    if plan.calibrate and "validation" in predictions:
        model, temperature = calibrate(model, predictions["validation"], run_dir, verbose)
    # written while the run is evaluated and plotted (the save is mostly I/O); complete before train() returns
    saving = BackgroundSave(model, os.path.join(run_dir, runs.MODEL_FILE))
    try:
        summary = finish_run(config, plan, run_dir, model, preprocessor, dataset, report, predictions, temperature)
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
