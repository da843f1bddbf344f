"""Compile + fit glue: precision, distribution strategy, callbacks, the run directory.

`train(TrainConfig(...))` is what `mmsa train` runs: read and split the data,
check every image, fit the `Preprocessor` on the training split, build the
registered model under the chosen strategy and precision, fit it with
EarlyStopping (best weights restored), ModelCheckpoint, BackupAndRestore (an
interrupted run resumes when the same command runs again), CSVLogger and
optionally TensorBoard, then evaluate it and save everything in the run directory
(layout in `mmsa_keras.runs`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import keras
import tensorflow as tf

from data_pipelines.pipeline import Preprocessor
from data_pipelines.report import DataReport
from mmsa_keras import runs
from mmsa_keras.registry import create_model, get_spec

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "none", "mirrored")


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (saved as `run_config.json`)."""

    model: str
    data_dir: str
    out: str
    format: str = "mvsa"
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    precision: str = "auto"
    strategy: str = "auto"
    learning_rate: float = 1e-3
    patience: int = 3
    image_size: int | None = None  # None: the image encoder's own input side (64 for small_cnn)
    sequence_length: int = 32
    text_encoder: str | None = None  # None: the model's default, else small_transformer
    image_encoder: str | None = None  # None: the model's default, else small_cnn
    text_encoder_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    image_encoder_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    format_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    augment: bool = True
    balance_to: int | None = None
    tensorboard: bool = False
    force: bool = False
    verbose: int = 1


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
    devices when there is no GPU); `none` → the default strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if strategy == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    return tf.distribute.get_strategy()


FALLBACK_ENCODERS = {"text": "small_transformer", "image": "small_cnn"}


def encoder_name(config: TrainConfig, modality: str) -> str:
    """The encoder a run uses: the one asked for, else the model's own, else the small default."""
    spec = get_spec(config.model)
    key = f"{modality}_encoder"
    return getattr(config, key) or spec.defaults.get(key) or FALLBACK_ENCODERS[modality]


def make_preprocessor(config: TrainConfig) -> Preprocessor:
    """A Preprocessor matched to the run's encoders (tokenizer, image size, normalisation)."""
    from mmsa_keras.encoders import image_encoder_spec, tokenizer_for

    modalities = get_spec(config.model).modalities
    tokenizer = tokenizer_for(encoder_name(config, "text"), config.sequence_length) if "text" in modalities else None
    image_size, normalisation = config.image_size, "mean_std"
    if "image" in modalities:
        ispec = image_encoder_spec(encoder_name(config, "image"))
        normalisation = ispec.normalisation
        if config.image_size is None:
            image_size = ispec.image_size or 64
    return Preprocessor(image_size=image_size or 64, tokenizer=tokenizer,
                        sequence_length=config.sequence_length, normalisation=normalisation)


def build_model(config: TrainConfig, preprocessor: Preprocessor, num_classes: int) -> keras.Model:
    """Create the registered model with encoders sized for the preprocessor."""
    from mmsa_keras.encoders import image_encoder_spec, text_encoder_spec

    spec = get_spec(config.model)
    sizes = {"text": {"vocabulary_size": preprocessor.tokenizer.vocabulary_size,
                      "sequence_length": preprocessor.tokenizer.sequence_length},
             "image": {"image_size": preprocessor.image_size}}
    encoder_specs = {"text": text_encoder_spec, "image": image_encoder_spec}
    kwargs = {"num_classes": num_classes, **config.model_overrides}
    for modality in spec.modalities:
        key = f"{modality}_encoder"
        chosen = encoder_name(config, modality)
        pretrained = encoder_specs[modality](chosen).pretrained
        # pretrained text encoders are sized by their weights; images always by the pipeline
        encoder_cfg = {} if pretrained and modality == "text" else dict(sizes[modality])
        if chosen == spec.defaults.get(key):  # the model's own encoder settings (e.g. paper 004's ψ)
            encoder_cfg.update(spec.defaults.get(f"{key}_config", {}))
        encoder_cfg.update(getattr(config, f"{key}_config"))
        kwargs.update({key: chosen, f"{key}_config": encoder_cfg})
    return create_model(config.model, **kwargs)


def training_objective(model: keras.Model) -> dict:
    """The model's own `training_objective()`, or plain cross-entropy + accuracy."""
    if hasattr(model, "training_objective"):
        return model.training_objective()
    return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def labels_for(model: keras.Model, dataset):
    """Give every output that has a loss the integer labels (dict-output models)."""
    if not isinstance(model.output, dict):
        return dataset
    keys = list(model.output)
    return dataset.map(lambda x, y: (x, {k: y for k in keys}))


def make_callbacks(config: TrainConfig, run_dir: str) -> list[keras.callbacks.Callback]:
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                      restore_best_weights=True, verbose=int(config.verbose > 0)),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "checkpoints", "best.weights.h5"),
                                        monitor="val_loss", save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
    ]
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")))
    return callbacks


def train(config: TrainConfig, extra_callbacks=None) -> dict[str, Any]:
    """Train (or resume) one run; returns a summary with the run's metrics."""
    from mmsa_keras.evaluation import evaluate_run

    run_dir = config.out
    os.makedirs(run_dir, exist_ok=True)
    model_path = os.path.join(run_dir, "model.keras")
    backup_dir = os.path.join(run_dir, "backup")
    resuming = os.path.isdir(backup_dir)
    if os.path.exists(model_path) and not resuming and not config.force:
        print(f"{run_dir} already holds a trained model; evaluating it (use --force to retrain)")
        return {"run_dir": run_dir, "metrics": evaluate_run(run_dir, "test", verbose=config.verbose),
                "trained": False}
    if config.force and not resuming:
        for name in ("history.csv", "splits.json", "model.keras"):
            if os.path.exists(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))

    keras.utils.set_random_seed(config.seed)
    policy = resolve_precision(config.precision)
    previous_policy = keras.mixed_precision.global_policy()
    strategy = resolve_strategy(config.strategy)
    report = DataReport()
    splits_file = os.path.join(run_dir, "splits.json")
    dataset = runs.load_split_data(config.data_dir, config.format, config.seed, report,
                                   splits_file=splits_file if resuming else None,
                                   format_options=config.format_options, verbose=config.verbose > 0)
    for split in ("train", "validation"):
        if not dataset.labelled(split):
            raise ValueError(f"{config.data_dir}: the {split} split has no labelled posts")
    runs.save_splits(splits_file, dataset)
    if resuming and os.path.exists(os.path.join(run_dir, "preprocessing.json")):
        preprocessor = Preprocessor.load(run_dir)
    else:
        preprocessor = make_preprocessor(config)
        preprocessor.fit(dataset.labelled("train"), verbose=config.verbose > 0)
        preprocessor.save(run_dir)
    runs.write_json(os.path.join(run_dir, "run_config.json"),
                    {**dataclasses.asdict(config), "precision_used": policy,
                     "strategy_used": type(strategy).__name__, "class_names": list(dataset.class_names),
                     "dataset_name": dataset.name, "dataset_summary": dataset.summary()})

    start = time.time()
    try:
        keras.mixed_precision.set_global_policy(policy)
        with strategy.scope():
            model = build_model(config, preprocessor, dataset.num_classes)
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), **training_objective(model))
        names = list(model.input)
        train_ds = labels_for(model, preprocessor.make_dataset(
            dataset.labelled("train"), config.batch_size, training=True, augment=config.augment,
            seed=config.seed, balance_to=config.balance_to, input_names=names))
        val_ds = labels_for(model, preprocessor.make_dataset(dataset.labelled("validation"),
                                                             config.batch_size, input_names=names))
        callbacks = make_callbacks(config, run_dir) + list(extra_callbacks or [])
        history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                            callbacks=callbacks, verbose=config.verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    train_seconds = time.time() - start
    model.save(model_path)
    report.save(os.path.join(run_dir, "data_report.json"))
    from mmsa_keras.evaluation import plot_history

    plot_history(os.path.join(run_dir, "history.csv"), os.path.join(run_dir, "training_curves.png"))
    metrics = {split: evaluate_run(run_dir, split, verbose=config.verbose, model=model,
                                   preprocessor=preprocessor, dataset=dataset)
               for split in ("validation", "test") if dataset.splits.get(split)}
    if config.verbose:
        print(report.summary())
    return {"run_dir": run_dir, "metrics": metrics.get("test", metrics.get("validation")),
            "all_metrics": metrics, "history": history.history, "train_seconds": train_seconds,
            "trained": True, "data_report": report.counts()}
