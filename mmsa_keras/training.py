"""Compile + fit glue: precision, strategy, optimiser, feature mode, callbacks, run directory.

`train(TrainConfig(...))` is what `mmsa train` runs: read and split the data,
check every image, fit the `Preprocessor` on the training split, build the
registered model under the chosen strategy and precision, fit it with
EarlyStopping (best weights restored), ModelCheckpoint, BackupAndRestore (an
interrupted run resumes when the same command runs again), CSVLogger and
optionally TensorBoard, then evaluate it and save everything in the run directory
(layout in `mmsa_keras.runs`).

Feature mode: when every encoder of the model is pretrained and frozen, the
encoders run once over all posts into the feature store
(`data_pipelines.features`) and the head trains on the stored outputs; the
saved `model.keras` is the raw-mode model (encoders + the trained head, whose
weights are copied by layer name), so evaluation, export and serving take raw
posts as usual.
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
    # optimiser: adam | adamw | sgd, warm-up then constant | linear | cosine decay
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    warmup_steps: int = 0
    schedule: str = "constant"
    # fine-tuning: pretrained encoders are frozen unless unfreeze is "all" or k (top k blocks/layers)
    unfreeze: str = "0"
    encoder_learning_rate: float | None = None
    # feature mode: "auto" = on when every encoder is pretrained and frozen
    feature_mode: str = "auto"
    feature_store: str | None = None  # default: <parent of out>/feature_store
    run_eagerly: bool = False  # no graph tracing: faster for a handful of tiny steps (smoke runs)


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


def encoder_settings(config: TrainConfig, modality: str, preprocessor: Preprocessor) -> tuple[str, dict, bool]:
    """(name, constructor kwargs, frozen) of the run's encoder for one modality."""
    from mmsa_keras.encoders import image_encoder_spec, text_encoder_spec

    spec = get_spec(config.model)
    key = f"{modality}_encoder"
    chosen = encoder_name(config, modality)
    encoder_spec = (text_encoder_spec if modality == "text" else image_encoder_spec)(chosen)
    if encoder_spec.pretrained and modality == "text":
        cfg = {}
    elif modality == "text":
        cfg = {"vocabulary_size": preprocessor.tokenizer.vocabulary_size,
               "sequence_length": preprocessor.tokenizer.sequence_length}
    else:
        cfg = {"image_size": preprocessor.image_size}
    if chosen == spec.defaults.get(key):  # the model's own encoder settings (e.g. paper 004's ψ)
        cfg.update(spec.defaults.get(f"{key}_config", {}))
    frozen = False
    if encoder_spec.pretrained:
        unfreeze = config.unfreeze if config.unfreeze == "all" else int(config.unfreeze)
        if modality == "image":
            cfg["unfreeze_top_blocks"] = unfreeze
        else:
            cfg["trainable"] = unfreeze
        frozen = unfreeze == 0
    cfg.update(getattr(config, f"{key}_config"))
    return chosen, cfg, frozen


def build_model(config: TrainConfig, preprocessor: Preprocessor, num_classes: int, encoders=None,
                feature_shapes=None) -> keras.Model:
    """Create the registered model: raw mode with `encoders` (built from the config when
    None), or feature mode with `feature_shapes` ({"text_feature_shape": ..., ...})."""
    from mmsa_keras.encoders import build_image_encoder, build_text_encoder

    spec = get_spec(config.model)
    kwargs = {"num_classes": num_classes, **config.model_overrides}
    if feature_shapes is not None:
        return create_model(config.model, **kwargs, **feature_shapes)
    builders = {"text": build_text_encoder, "image": build_image_encoder}
    for modality in spec.modalities:
        if encoders and modality in encoders:
            kwargs[f"{modality}_encoder"] = encoders[modality]
        else:
            name, cfg, _ = encoder_settings(config, modality, preprocessor)
            kwargs[f"{modality}_encoder"] = builders[modality](name, **cfg)
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


def use_feature_mode(config: TrainConfig, preprocessor: Preprocessor) -> bool:
    """Feature mode: asked for ("on"), or "auto" with every encoder pretrained and frozen."""
    if config.feature_mode not in ("auto", "on", "off"):
        raise ValueError(f"feature_mode must be auto, on or off, got {config.feature_mode!r}")
    if not getattr(get_spec(config.model).builder, "supports_feature_mode", True):
        return False
    if config.feature_mode != "auto":
        return config.feature_mode == "on"
    frozen = [encoder_settings(config, m, preprocessor)[2] for m in get_spec(config.model).modalities]
    return bool(frozen) and all(frozen)


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


def extract_run_features(config: TrainConfig, preprocessor: Preprocessor, dataset, encoders: dict,
                         sequences: bool) -> dict:
    """Run the frozen encoders once over every post of the dataset (feature store)."""
    from data_pipelines.features import extract_features

    store = config.feature_store or os.path.join(os.path.dirname(os.path.abspath(config.out)), "feature_store")
    posts = dataset.all_posts()
    out = {}
    for m, enc in encoders.items():
        name, cfg, _ = encoder_settings(config, m, preprocessor)
        out[m] = extract_features(enc, m, posts, preprocessor, store, batch_size=config.batch_size,
                                  sequences=sequences, verbose=config.verbose > 0,
                                  encoder_spec={"name": name, **cfg})
    return out


def train(config: TrainConfig, extra_callbacks=None) -> dict[str, Any]:
    """Train (or resume) one run; returns a summary with the run's metrics."""
    from data_pipelines.features import feature_dataset
    from mmsa_keras.encoders import build_image_encoder, build_text_encoder
    from mmsa_keras.evaluation import evaluate_run, plot_history
    from mmsa_keras.optimizers import make_optimizer

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
        for name in ("history.csv", "splits.json", "model.keras", "metrics.json"):
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
    feature_mode = use_feature_mode(config, preprocessor)
    spec = get_spec(config.model)
    runs.write_json(os.path.join(run_dir, "run_config.json"),
                    {**dataclasses.asdict(config), "precision_used": policy, "feature_mode_used": feature_mode,
                     "strategy_used": type(strategy).__name__, "class_names": list(dataset.class_names),
                     "dataset_name": dataset.name, "dataset_summary": dataset.summary(),
                     "encoders_used": {m: encoder_name(config, m) for m in spec.modalities}})

    start = time.time()
    try:
        keras.mixed_precision.set_global_policy(policy)
        with strategy.scope():
            builders = {"text": build_text_encoder, "image": build_image_encoder}
            encoders = {}
            for m in spec.modalities:
                name, cfg, _ = encoder_settings(config, m, preprocessor)
                encoders[m] = builders[m](name, **cfg)
            model = build_model(config, preprocessor, dataset.num_classes, encoders=encoders)
            head = model
            if feature_mode:
                sequences = bool(getattr(model, "uses_sequences", False))
                stores = extract_run_features(config, preprocessor, dataset, encoders, sequences)
                shapes = {}
                for m, fs in stores.items():
                    if sequences:
                        shapes[f"{m}_feature_shape"] = fs.shape("sequence_output" if m == "text" else "feature_map")
                    else:
                        key = getattr(model, "text_feature", "pooled_output") if m == "text" else "pooled_output"
                        shapes[f"{m}_feature_shape"] = fs.shape(key)
                head = build_model(config, preprocessor, dataset.num_classes, feature_shapes=shapes)
                copy_head_weights(head, model, into_source=True)  # start from the raw model's init
            steps = config.epochs * max(1, -(-len(dataset.labelled("train")) // config.batch_size))
            encoder_vars = [v for e in encoders.values() for v in e.trainable_variables] if not feature_mode else []
            optimizer = make_optimizer(config.optimizer, config.learning_rate, steps, config.warmup_steps,
                                       config.schedule, config.weight_decay, config.momentum, encoder_vars,
                                       config.encoder_learning_rate)
            head.compile(optimizer=optimizer, run_eagerly=config.run_eagerly, **training_objective(head))
        names = list(head.input)
        if feature_mode:
            text_feature = getattr(model, "text_feature", "pooled_output")
            make = lambda posts, training: feature_dataset(  # noqa: E731
                posts, stores.get("text"), stores.get("image"), config.batch_size, shuffle=training,
                seed=config.seed, text_feature=text_feature, sequences=sequences, input_names=names)
            train_ds = labels_for(head, make(dataset.labelled("train"), True))
            val_ds = labels_for(head, make(dataset.labelled("validation"), False))
        else:
            # with several replicas an uneven last batch breaks cross-replica ops: drop it during fit
            # (the final evaluation below runs outside the strategy, on every post)
            drop = strategy.num_replicas_in_sync > 1
            train_ds = labels_for(head, preprocessor.make_dataset(
                dataset.labelled("train"), config.batch_size, training=True, augment=config.augment,
                seed=config.seed, balance_to=config.balance_to, input_names=names, drop_remainder=drop))
            val_posts = dataset.labelled("validation")
            val_batch = config.batch_size
            if drop:  # whole batches that split evenly; the final evaluation sees every post
                replicas = strategy.num_replicas_in_sync
                val_batch = max(replicas, min(config.batch_size, len(val_posts) // replicas * replicas))
            val_ds = labels_for(head, preprocessor.make_dataset(val_posts, val_batch, input_names=names,
                                                                drop_remainder=drop))
        callbacks = make_callbacks(config, run_dir) + list(extra_callbacks or [])
        history = head.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                           callbacks=callbacks, verbose=config.verbose)
        if feature_mode:
            copy_head_weights(head, model)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    train_seconds = time.time() - start
    model.save(model_path)
    report.save(os.path.join(run_dir, "data_report.json"))
    plot_history(os.path.join(run_dir, "history.csv"), os.path.join(run_dir, "training_curves.png"))
    metrics = {}
    for split in ("validation", "test"):
        if not dataset.labelled(split):
            continue
        predictions = None
        if feature_mode:  # evaluate on the stored features: same outputs, no encoder pass
            from mmsa_keras.evaluation import predict_dataset

            predictions = predict_dataset(head, make(dataset.labelled(split), False), verbose=0)
        metrics[split] = evaluate_run(run_dir, split, verbose=config.verbose, model=model,
                                      preprocessor=preprocessor, dataset=dataset, predictions=predictions)
    if config.verbose:
        print(report.summary())
    return {"run_dir": run_dir, "metrics": metrics.get("test", metrics.get("validation")),
            "all_metrics": metrics, "history": history.history, "train_seconds": train_seconds,
            "trained": True, "data_report": report.counts(), "feature_mode": feature_mode}
