"""`TrainConfig`: every setting of a training run, in one place (no TensorFlow import).

The `mmsa train` flags are generated from the fields of `TrainConfig` (their
metadata gives the help text, choices and flag kind), so a default lives in
exactly one place. `mmsa_keras.app.plan.make_plan` resolves a `TrainConfig` into
the run's `RunPlan`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from data_pipelines.datasets import FORMATS

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "none", "mirrored", "multi_worker")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
FEATURE_MODES = ("auto", "on", "off")
MONITORS = ("val_loss", "val_accuracy", "val_weighted_f1", "val_macro_f1")


def _field(
    default,
    help: str,
    *,
    cli: bool = True,
    choices=None,
    kind: str | None = None,
    metavar: str | None = None,
    group: str = "training",
    factory=None,
):
    """A dataclass field carrying its CLI description."""
    metadata = {"help": help, "cli": cli, "choices": choices, "kind": kind, "metavar": metavar, "group": group}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (saved in `run_config.json` with the resolved plan)."""

    model: str = _field(None, "registry name of the model (`mmsa models` lists them)", group="data")
    data_dir: str = _field(None, "dataset folder (or the CSV/JSONL file of the table formats)", group="data")
    out: str = _field(None, "run directory (created when the run starts)", group="data")
    format: str = _field("mvsa", "dataset format: " + ", ".join(FORMATS), group="data")
    epochs: int = _field(10, "maximum number of epochs")
    batch_size: int = _field(32, "posts per batch (split across replicas)")
    seed: int = _field(
        0, "seed of the initialisation, the shuffle, the augmentation and (unless --split-seed) the split"
    )
    split_seed: int | None = _field(None, "seed of a drawn train/validation/test split (default: --seed)")
    precision: str = _field("auto", "auto: mixed_float16 on a GPU, float32 on a CPU", choices=PRECISIONS)
    strategy: str = _field(
        "auto",
        "auto: MirroredStrategy when several GPUs are visible; multi_worker: "
        "MultiWorkerMirroredStrategy from TF_CONFIG",
        choices=STRATEGIES,
    )
    learning_rate: float = _field(
        1e-3, "learning rate of the head (and of the encoders unless --encoder-learning-rate)", group="optimiser"
    )
    patience: int = _field(3, "EarlyStopping patience in epochs")
    monitor: str = _field("val_loss", "what early stopping and the best checkpoint follow", choices=MONITORS)
    early_stopping: bool = _field(
        True,
        "stop when the monitored value stops improving and keep the best "
        "weights (--no-early-stopping: train exactly --epochs epochs)",
        kind="bool",
    )
    image_size: int | None = _field(
        None, "square image side (default: the image encoder's own; 64 for small_cnn)", group="encoders"
    )
    image_source_size: int | None = _field(
        None,
        "reduce every image to this square size first, then resize it "
        "to --image-size (paper 003: 32x32 images upsampled to 224)",
        group="encoders",
    )
    sequence_length: int = _field(32, "tokens per caption", group="encoders")
    text_encoder: str | None = _field(
        None,
        "text encoder (default: the model's own, else small_transformer): "
        "small_transformer, bag_of_embeddings, bilstm, minilm_l6, a keras-hub "
        "preset or a local Hugging Face directory",
        group="encoders",
    )
    image_encoder: str | None = _field(
        None,
        "image encoder (default: the model's own, else small_cnn): "
        "small_cnn, resnet50, mobilenet_v2, inception_v3, alexnet, "
        "mvso_pixel_cnn",
        group="encoders",
    )
    image_weights: str | None = _field(
        None,
        "pretrained image encoders: imagenet (downloaded once, the "
        "default where it exists), none (random initialisation) or a weights "
        "file",
        group="encoders",
    )
    text_encoder_config: dict[str, Any] = _field(None, "", cli=False, factory=dict)
    image_encoder_config: dict[str, Any] = _field(None, "", cli=False, factory=dict)
    model_overrides: dict[str, Any] = _field(
        None,
        "model constructor override, e.g. --set hidden_dim=32 (JSON values; repeatable)",
        kind="set",
        metavar="KEY=VALUE",
        factory=dict,
    )
    format_options: dict[str, Any] = _field(None, "", cli=False, factory=dict)
    tokenizer_options: dict[str, Any] = _field(None, "", cli=False, factory=dict)  # VocabularyTokenizer arguments
    augment: bool | None = _field(
        None,
        "augment training images (rotation 40°, shift/shear/zoom 20%); "
        "default: on when the image encoder trains, off when it is frozen "
        "(--augment with a frozen encoder trains in raw mode)",
        kind="tristate",
    )
    balance_to: int | None = _field(None, "resample every training class to N posts (repeats are augmented)")
    class_weight: str | None = _field(
        None,
        "weight the loss per class: balanced (n / (k * n_class)), sqrt_balanced (its square root) "
        "or a JSON file {class name: weight}",
    )
    tensorboard: bool = _field(False, "write TensorBoard logs to RUN_DIR/tensorboard", kind="flag")
    force: bool = _field(
        False, "start afresh: remove the model, backup, checkpoints and history of RUN_DIR", kind="flag"
    )
    verbose: int = _field(1, "", cli=False)
    optimizer: str = _field("adam", "optimiser", choices=OPTIMIZERS, group="optimiser")
    weight_decay: float = _field(0.0, "decoupled weight decay (adamw)", group="optimiser")
    momentum: float = _field(0.9, "SGD momentum", group="optimiser")
    warmup_steps: int = _field(0, "linear warm-up steps (paper 000: 500)", group="optimiser")
    schedule: str = _field("constant", "learning-rate decay after the warm-up", choices=SCHEDULES, group="optimiser")
    unfreeze: str = _field(
        "0",
        "pretrained encoders: 0 frozen, all, or K = the top K blocks (ResNet stages, transformer layers)",
        group="optimiser",
    )
    encoder_learning_rate: float | None = _field(
        None, "learning rate of the unfrozen encoder layers (default: --learning-rate)", group="optimiser"
    )
    layer_decay: float | None = _field(
        None,
        "layer-wise learning-rate decay of an unfrozen transformer text "
        "encoder: layer l (of L) learns at encoder_lr * decay^(L - l)",
        group="optimiser",
    )
    feature_mode: str = _field(
        "auto",
        "train the head on stored encoder outputs (auto: when every encoder is "
        "pretrained and frozen and nothing needs raw images)",
        choices=FEATURE_MODES,
        group="encoders",
    )
    standardize_features: bool | None = _field(
        None,
        "standardise stored frozen image features per channel with training-split statistics, in "
        "training and in the saved model (default: on when the image encoder's outputs are stored; "
        "random-weight ResNet-50 maps are on a very different scale from text states)",
        kind="tristate",
        group="encoders",
    )
    feature_store: str | None = _field(
        None, "feature store folder (default: $MMSA_CACHE_DIR/features, ~/.cache/mmsa_keras/features)", group="encoders"
    )
    glove: str | None = _field(
        None,
        "a GloVe text file initialising the word embeddings of a text encoder trained "
        "from scratch (paper 004: GloVe-Twitter 200-d)",
        group="encoders",
    )
    text_transform: str | None = _field(
        None,
        "caption transform before tokenisation: lemmatise (English, "
        "simplemma's dictionary, in the graph so serving does the same)",
        group="encoders",
    )
    init_from: str | None = _field(
        None,
        "a .keras model whose layers of the same name and shape start this "
        "model (paper 003 Table 9 starts from the best classical model)",
    )
    split_ids: str | None = _field(
        None,
        "a JSON file {split: [post ids]} that fixes the train/validation/test posts instead of a drawn split "
        "(`mmsa cv` writes one per fold)",
        group="data",
    )
    holdout_fraction: float | None = _field(
        None,
        "keep this stratified fraction of the training split out of "
        "training (paper 000: the WANN's data, unseen by the unimodal models)",
    )
    dedup: str | None = _field(
        None,
        "drop-from-train: remove the training posts that duplicate a validation or test post (equal normalised "
        "caption or near-identical image), said in the log and run_config.json",
        choices=("drop-from-train",),
        group="data",
    )
    test_split: bool = _field(
        True,
        "--no-test-split: a dataset without its own splits is split 9:1 into train and validation only, so "
        "every post but the validation tenth trains the model (evaluate it on held-out data with "
        "`mmsa evaluate RUN --data-dir D`); with --test-split (the default) it is split 8:1:1",
        kind="tristate",
        group="data",
    )
    train_on_holdout: bool = _field(
        False, "train on the held-out part (--holdout-fraction) instead of the rest", kind="flag"
    )
    calibrate: bool = _field(
        True,
        "fit one temperature on the validation split after training, so the saved, exported and served "
        "probabilities are calibrated (the predicted class never changes; --no-calibrate: the raw softmax)",
        kind="bool",
    )
    tfidf_weight: float | None = _field(
        None,
        "after training, ensemble the model with a TF-IDF + logistic-regression caption classifier fitted on "
        "the same training posts: the output is (1 - w) * model + w * TF-IDF (raw-input runs; 0 turns a recipe's off)",
    )
    allow_outside_paths: bool = _field(
        False,
        "read files that resolve outside the dataset folder (absolute or ../ table paths, symlinks leading out)",
        kind="flag",
        group="data",
    )
    run_eagerly: bool = _field(False, "", cli=False)  # no graph tracing: faster for a handful of tiny steps
    recipe: str | None = _field(None, "", cli=False)  # the recipe the settings came from (`mmsa recipes`)
    #: where each setting that is not a default came from (`layered`): "recipe mvsa", "table", "row", "typed", ...
    sources: dict[str, str] = _field(None, "", cli=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; known: {sorted(names)}")
        return cls(**data)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


REQUIRED = ("model", "data_dir", "out")
TRAIN_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def parse_key_values(items, what: str = "--set") -> dict[str, Any]:
    """`["a=1", "b=x"]` → `{"a": 1, "b": "x"}` (JSON values, else strings)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def add_config_arguments(parser: argparse.ArgumentParser, only=None, required=REQUIRED) -> None:
    """Add one flag per CLI field of `TrainConfig` (defaults shown in the help).

    Flags default to `argparse.SUPPRESS`, so the parsed namespace holds only
    what the user typed: that is how a recipe's settings are overridden by
    explicit flags and nothing else.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(TrainConfig):
        meta = f.metadata
        if not meta.get("cli") or (only is not None and f.name not in only):
            continue
        group = groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        is_required = f.name in required
        shown = (
            ""
            if is_required or "default:" in meta["help"] or meta.get("kind") in ("bool", "flag")
            else f" (default: {_shown(f.name, default)})"
        )
        if f.name in REQUIRED and not is_required:
            shown = " (required, unless a --recipe sets it)"
        kwargs: dict[str, Any] = {
            "help": (meta["help"] + shown).replace("%", "%%"),
            "default": argparse.SUPPRESS,
            "dest": f.name,
        }
        kind = meta.get("kind")
        if f.name == "model_overrides":
            flag = "--set"
            kwargs.update(action="append", metavar=meta["metavar"])
        elif kind == "flag":
            kwargs.update(action="store_true")
        elif kind == "bool":
            flag = "--no-" + f.name.replace("_", "-")
            kwargs.update(action="store_false")
        elif kind == "tristate":
            kwargs.update(action=argparse.BooleanOptionalAction)
        else:
            kwargs["type"] = _type_of(f.name, default)
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            kwargs["metavar"] = meta.get("metavar") or (None if meta.get("choices") else f.name.upper())
            if is_required:
                kwargs["required"] = True
        group.add_argument(flag, **kwargs)


_TYPES = {"int": int, "float": float, "str": str}


def _type_of(name, default):
    hint = str(TrainConfig.__annotations__[name])
    for key, typ in _TYPES.items():
        if hint.startswith(key):
            return typ
    return type(default) if default is not None else str


def _shown(name, default):
    if name == "unfreeze":
        return "0 = frozen"
    return "auto" if default is None and name in ("augment",) else default


#: the settings that are dicts merged key by key (`--set` adds to a recipe's model arguments)
MERGED = ("model_overrides",)


def layered(layers) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings merged in order, a later layer winning: `[(source, {setting: value}), ...]` →
    `(settings, {setting: source})`. The one precedence of the project (docs/ARCHITECTURE.md §5):
    defaults < recipe < table < row < what the user typed. `MERGED` settings merge key by key, their
    sources kept as `setting.key`; any other value replaces the earlier one whole."""
    settings: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        for key, value in (values or {}).items():
            if key in MERGED and isinstance(value, dict):
                settings[key] = {**settings.get(key, {}), **value}
                sources.update({f"{key}.{k}": source for k in value})
            else:
                settings[key] = value
                sources[key] = source
    return settings, sources


def config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None, base_source="recipe") -> TrainConfig:
    """A `TrainConfig` from `base` settings (a recipe) updated by the flags the user typed; each setting's
    source is kept in `sources`."""
    given = {k: v for k, v in vars(args).items() if k in TRAIN_FIELDS}
    if "model_overrides" in given:
        given["model_overrides"] = parse_key_values(given["model_overrides"])
    settings, sources = layered([(base_source, base), ("typed", given)])
    if "unfreeze" in settings:
        settings["unfreeze"] = str(settings["unfreeze"])
    return TrainConfig.from_dict({**settings, "sources": sources})
