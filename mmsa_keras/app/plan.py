"""The run plan: every setting of a run resolved once, before any data is read.

`make_plan(config)` turns a `TrainConfig` (from `mmsa train`, a recipe or a
table row) into a `RunPlan`: the model, per modality the encoder (name,
constructor arguments, weights, frozen or the top k blocks unfrozen),
preprocessing (image size, normalisation, tokenizer, augmentation, class
balancing), feature mode, optimiser and schedule, stopping rule, precision and
strategy. `mmsa train`, `mmsa features extract`, `mmsa reproduce` and
`mmsa evaluate` all read the plan, and it is what `run_config.json` stores.

A setting the plan cannot honour is a `UsageError` naming the setting and what
to do instead, or it is honoured by another route that `plan.notes` states
(augmentation with a frozen image encoder: the run trains in raw mode, where
the augmented images go through the encoder). Nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import os
from typing import Any

from data_pipelines.datasets import available_formats, unknown_option
from data_pipelines.post import BALANCED_WEIGHTS
from mmsa_keras.app.config import FEATURE_MODES, MONITORS, OPTIMIZERS, PRECISIONS, SCHEDULES, STRATEGIES, TrainConfig
from mmsa_keras.encoders import (
    TEXT_ENCODERS,
    image_encoder_spec,
    is_text_encoder_name,
    text_encoder_spec,
)
from mmsa_keras.encoders.image_encoders import parse_unfreeze
from mmsa_keras.errors import UsageError
from mmsa_keras.registry import get_spec

FALLBACK_ENCODERS = {"text": "small_transformer", "image": "small_cnn"}
#: text encoders trained from scratch take these from the data (the fitted tokenizer)
DATA_DERIVED = {"text": ("vocabulary_size", "sequence_length"), "image": ("image_size",)}


def default_feature_store() -> str:
    """`$MMSA_CACHE_DIR/features`, else `~/.cache/mmsa_keras/features` (shared by every run)."""
    root = os.environ.get("MMSA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mmsa_keras")
    return os.path.join(root, "features")


@dataclasses.dataclass(frozen=True)
class EncoderPlan:
    """One modality's encoder: what to build, with which weights, and what trains."""

    modality: str
    name: str
    kwargs: dict[str, Any]
    pretrained: bool
    weights: str | None = None  # image: "imagenet", a file or None (random); text: "preset" or None
    unfreeze: Any = 0  # 0, k (top k blocks / transformer layers) or "all"; trainable from scratch otherwise
    notes: list[str] = dataclasses.field(default_factory=list)
    glove: str | None = None  # a GloVe file for the word embeddings of a text encoder trained from scratch

    @property
    def frozen(self) -> bool:
        return self.pretrained and self.unfreeze == 0

    @property
    def random_weights(self) -> bool:
        return self.pretrained and self.modality == "image" and self.weights is None

    def describe(self) -> str:
        if not self.pretrained:
            return f"{self.name} (trained from scratch)"
        weights = {None: "random weights", "imagenet": "ImageNet weights", "preset": "pretrained weights"}.get(
            self.weights, f"weights {self.weights}"
        )
        state = (
            "frozen"
            if self.frozen
            else ("fine-tuned" if self.unfreeze == "all" else f"top {self.unfreeze} blocks fine-tuned")
        )
        return f"{self.name} ({weights}, {state})"


@dataclasses.dataclass(frozen=True)
class PreprocessingPlan:
    image_size: int
    normalisation: str
    sequence_length: int
    tokenizer: dict[str, Any]  # {"kind": "vocabulary", ...} or {"kind": "keras_hub", "preset": ...}
    augment: bool
    balance_to: int | None
    text_transform: str | None = None
    source_size: int | None = None


@dataclasses.dataclass(frozen=True)
class OptimizerPlan:
    name: str
    learning_rate: float
    encoder_learning_rate: float | None
    layer_decay: float | None
    weight_decay: float
    momentum: float
    warmup_steps: int
    schedule: str


@dataclasses.dataclass(frozen=True)
class StoppingPlan:
    epochs: int
    early_stopping: bool
    patience: int
    monitor: str

    def describe(self) -> str:
        if not self.early_stopping:
            return f"exactly {self.epochs} epochs (no early stopping)"
        return f"up to {self.epochs} epochs, early stopping on {self.monitor} (patience {self.patience}), best weights"


@dataclasses.dataclass(frozen=True)
class DataPlan:
    """Where a run's posts come from and how they are split."""

    data_dir: str
    format: str
    format_options: dict[str, Any]
    split_seed: int
    allow_outside_paths: bool = False
    holdout_fraction: float | None = None
    train_on_holdout: bool = False
    test_split: bool = True
    dedup: str | None = None
    split_ids: str | None = None

    @property
    def reader_options(self) -> dict[str, Any]:
        """The reader's options as `load_dataset` takes them (the dataset wall's switch included)."""
        options = dict(self.format_options or {})
        if self.allow_outside_paths:
            options["allow_outside_paths"] = True
        return options


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """Everything a run does, resolved once (see the module docstring)."""

    model: str
    paper: str
    table: str
    modalities: tuple[str, ...]
    model_overrides: dict[str, Any]
    encoders: dict[str, EncoderPlan]
    preprocessing: PreprocessingPlan
    #: modalities whose frozen encoder outputs come from the feature store (the others run raw)
    stored_modalities: list[str]
    optimizer: OptimizerPlan
    stopping: StoppingPlan
    batch_size: int
    seed: int
    precision: str
    strategy: str
    class_weight: str | None
    data: DataPlan
    feature_store: str
    notes: list[str] = dataclasses.field(default_factory=list)
    init_from: str | None = None
    #: stored modalities whose features are standardised per channel (training-split statistics)
    standardized_modalities: list[str] = dataclasses.field(default_factory=list)
    #: after training, blend the model's probabilities with a TF-IDF caption classifier's by this weight
    tfidf_weight: float | None = None
    #: after training (and the TF-IDF blend), scale the probabilities by a temperature fitted on validation
    calibrate: bool = True
    #: where each setting that is not a default came from ("recipe mvsa", "table", "row", "typed")
    sources: dict[str, str] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ model
    @property
    def feature_mode(self) -> bool:
        """Every encoder's outputs come from the store: only the head trains."""
        return bool(self.stored_modalities) and set(self.stored_modalities) == set(self.modalities)

    @property
    def uses_sequences(self) -> bool:
        return get_spec(self.model).uses_sequences

    @property
    def text_feature(self) -> str:
        return get_spec(self.model).text_feature

    # ------------------------------------------------------------ description
    def describe(self) -> list[str]:
        lines = [f"model {self.model} (paper {self.paper}, {self.table})"]
        for m, e in self.encoders.items():
            lines.append(f"{m} encoder: {e.describe()}")
        p = self.preprocessing
        inputs = [f"images {p.image_size}px ({p.normalisation})"] if "image" in self.modalities else []
        inputs += [f"{p.sequence_length} tokens"] if "text" in self.modalities else []
        lines.append(
            f"inputs: {', '.join(inputs)}; "
            + (f"augmentation {'on' if p.augment else 'off'}" if "image" in self.modalities else "captions only")
            + (f"; classes balanced to {p.balance_to}" if p.balance_to else "")
        )
        if self.feature_mode:
            how = "head on stored encoder features (feature mode)"
        elif self.stored_modalities:
            how = (
                f"stored {' and '.join(self.stored_modalities)} features, the other encoder on raw inputs "
                "(mixed feature mode)"
            )
        else:
            how = "end to end on raw inputs"
        if self.standardized_modalities:
            how += (
                f"; stored {' and '.join(self.standardized_modalities)} features standardised per channel "
                "(training-split mean/std, kept in the saved model)"
            )
        lines.append(f"training: {how}; {self.stopping.describe()}")
        if self.tfidf_weight is not None:
            lines.append(
                f"then ensembled with TF-IDF + logistic regression on the same training captions: "
                f"{1 - self.tfidf_weight:g} x model + {self.tfidf_weight:g} x TF-IDF"
            )
        if self.calibrate:
            lines.append("then calibrated: one temperature fitted on the validation split (--no-calibrate: off)")
        o = self.optimizer
        lines.append(
            f"optimiser: {o.name} lr {o.learning_rate:g}"
            + (f", encoder lr {o.encoder_learning_rate:g}" if o.encoder_learning_rate else "")
            + (f", layer decay {o.layer_decay:g}" if o.layer_decay else "")
            + (f", weight decay {o.weight_decay:g}" if o.weight_decay else "")
            + (f", {o.warmup_steps} warm-up steps" if o.warmup_steps else "")
            + (f", {o.schedule} decay" if o.schedule != "constant" else "")
            + f"; batch {self.batch_size}; seed {self.seed}"
            + (f"; class weights {self.class_weight}" if self.class_weight else "")
        )
        return lines + [f"note: {n}" for n in self.notes] + self.describe_sources()

    def describe_sources(self) -> list[str]:
        """The settings that are not defaults, grouped by where they came from (`TrainConfig.sources`)."""
        by_source: dict[str, list[str]] = {}
        for key, source in sorted(self.sources.items()):
            if source != "run":
                by_source.setdefault(source, []).append(key)
        shown = {"typed": "the command line"}
        return [f"set by {shown.get(source, source)}: {', '.join(keys)}" for source, keys in by_source.items()]

    # ------------------------------------------------------------ persistence
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunPlan:
        d = dict(d)
        d.pop("feature_mode", None)
        d["encoders"] = {m: EncoderPlan(**e) for m, e in d["encoders"].items()}
        d["preprocessing"] = PreprocessingPlan(**d["preprocessing"])
        d["optimizer"] = OptimizerPlan(**d["optimizer"])
        d["stopping"] = StoppingPlan(**d["stopping"])
        data = {k: v for k, v in d["data"].items() if k in {f.name for f in dataclasses.fields(DataPlan)}}
        d["data"] = DataPlan(**{"split_seed": d["seed"], **data})  # runs before split_seed was kept: the seed
        d["modalities"] = tuple(d["modalities"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (with the derived `feature_mode`, for readers of run_config.json)."""
        return {**dataclasses.asdict(self), "feature_mode": self.feature_mode}


def encoder_seed(seed: int, modality: str) -> int:
    return (int(seed) * 1_000_003 + {"text": 17, "image": 29}[modality]) % (2**31)


# ============================================================================ resolution
def _check_choice(name, value, choices):
    if value not in choices:
        raise UsageError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}")


def resolve_encoder(config: TrainConfig, modality: str, model_defaults: dict | None = None, unfreeze=0) -> EncoderPlan:
    """The encoder of one modality: the one asked for, else the model's own, else the small default."""
    spec = _Defaults(model_defaults or {})
    return _encoder_plan(config, spec, modality, unfreeze)


@dataclasses.dataclass
class _Defaults:
    defaults: dict


def _encoder_plan(config: TrainConfig, spec, modality: str, unfreeze) -> EncoderPlan:
    key = f"{modality}_encoder"
    name = getattr(config, key) or spec.defaults.get(key) or FALLBACK_ENCODERS[modality]
    if modality == "text" and not is_text_encoder_name(name):
        raise UsageError(
            f"unknown text encoder {name!r}; known: {', '.join(sorted(TEXT_ENCODERS))}, "
            "a keras-hub preset name or a local directory"
        )
    espec = text_encoder_spec(name) if modality == "text" else image_encoder_spec(name)
    kwargs: dict[str, Any] = {}
    if name == spec.defaults.get(key):  # the model's own encoder settings (e.g. paper 004's ψ)
        kwargs.update(spec.defaults.get(f"{key}_config", {}))
    kwargs.update(getattr(config, f"{key}_config") or {})
    notes: list[str] = []
    weights = None
    if modality == "image":
        asked = config.image_weights
        if espec.pretrained:
            if asked in (None, ""):
                weights = "imagenet" if espec.imagenet else None
                if not espec.imagenet:
                    notes.append(
                        f"{name}: no weights file given, so it is randomly initialised "
                        f"(--image-weights FILE for pretrained {name} weights)"
                    )
            elif str(asked).lower() in ("none", "random"):
                weights = None
                notes.append(f"{name}: random initialisation (--image-weights none)")
            elif str(asked).lower() == "imagenet":
                if not espec.imagenet:
                    raise UsageError(
                        f"{name} has no ImageNet weights in keras.applications: give "
                        f"--image-weights FILE (a weights file of this model) or none"
                    )
                weights = "imagenet"
            else:
                if not os.path.exists(asked):
                    raise UsageError(f"--image-weights {asked}: no such file")
                weights = os.path.abspath(asked)
        elif asked not in (None, ""):
            raise UsageError(
                f"--image-weights {asked}: the image encoder {name} is trained from scratch and "
                "takes no pretrained weights (choose resnet50, mobilenet_v2, inception_v3 or alexnet)"
            )
    elif espec.pretrained:
        weights = "preset"
    if not espec.pretrained:
        unfreeze_here = 0
    else:
        unfreeze_here = unfreeze
    return EncoderPlan(
        modality=modality,
        name=name,
        kwargs=kwargs,
        pretrained=espec.pretrained,
        weights=weights,
        unfreeze=unfreeze_here,
        notes=notes,
    )


def make_plan(config: TrainConfig, check_paths: bool = True) -> RunPlan:
    """Resolve a `TrainConfig` into a `RunPlan`; a setting that cannot be honoured raises `UsageError`."""
    spec, unfreeze = _checked_spec(config, check_paths)
    encoders = {m: _encoder_plan(config, spec, m, unfreeze) for m in spec.modalities}
    notes = [n for e in encoders.values() for n in e.notes]
    _check_encoder_options(config, encoders, unfreeze)
    image_size, normalisation, tokenizer = preprocessing_settings(config, encoders)
    stored, augment, standardized = _storage_and_augmentation(config, spec, encoders, notes)
    class_weight = _checked_files(config, encoders, check_paths)
    if config.tfidf_weight is not None and not 0 <= config.tfidf_weight < 1:
        raise UsageError(f"--tfidf-weight {config.tfidf_weight}: must lie in [0, 1) (0: no TF-IDF blend)")
    if config.monitor != "val_loss" and not config.early_stopping:
        notes.append(f"--monitor {config.monitor} only picks the best checkpoint: early stopping is off")

    split_seed = int(config.seed if config.split_seed is None else config.split_seed)
    return RunPlan(
        model=config.model,
        paper=spec.paper,
        table=spec.table,
        modalities=tuple(spec.modalities),
        model_overrides=dict(config.model_overrides),
        encoders=encoders,
        preprocessing=PreprocessingPlan(
            image_size=image_size,
            normalisation=normalisation,
            sequence_length=int(config.sequence_length),
            tokenizer=tokenizer,
            augment=bool(augment),
            balance_to=config.balance_to,
            text_transform=config.text_transform,
            source_size=config.image_source_size,
        ),
        stored_modalities=stored,
        optimizer=OptimizerPlan(
            name=config.optimizer,
            learning_rate=float(config.learning_rate),
            encoder_learning_rate=config.encoder_learning_rate,
            layer_decay=config.layer_decay,
            weight_decay=float(config.weight_decay),
            momentum=float(config.momentum),
            warmup_steps=int(config.warmup_steps),
            schedule=config.schedule,
        ),
        stopping=StoppingPlan(
            epochs=int(config.epochs),
            early_stopping=bool(config.early_stopping),
            patience=int(config.patience),
            monitor=config.monitor,
        ),
        batch_size=int(config.batch_size),
        seed=int(config.seed),
        precision=config.precision,
        strategy=config.strategy,
        class_weight=class_weight,
        data=DataPlan(
            data_dir=config.data_dir,
            format=config.format,
            format_options=_format_options(config, split_seed),
            allow_outside_paths=bool(config.allow_outside_paths),
            split_seed=split_seed,
            holdout_fraction=config.holdout_fraction,
            train_on_holdout=bool(config.train_on_holdout),
            test_split=bool(config.test_split),
            dedup=config.dedup,
            split_ids=os.path.abspath(config.split_ids) if config.split_ids else None,
        ),
        feature_store=config.feature_store or default_feature_store(),
        notes=notes,
        init_from=os.path.abspath(config.init_from) if config.init_from else None,
        standardized_modalities=standardized,
        tfidf_weight=float(config.tfidf_weight) if config.tfidf_weight else None,  # 0 turns a recipe's blend off
        calibrate=bool(config.calibrate),
        sources={**_model_default_sources(config, spec, encoders), **config.sources},
    )


def _model_default_sources(config: TrainConfig, spec, encoders: dict[str, EncoderPlan]) -> dict[str, str]:
    """The settings the plan takes from the model's registered defaults (`@register_model(..., text_encoder=
    ...)`): its own encoder, that encoder's settings, its constructor defaults. They rank above the
    defaults and below everything given (recipe, table, row, typed), which the caller's sources record."""
    source = f"model {config.model}"
    out = {}
    for m, enc in encoders.items():
        key = f"{m}_encoder"
        if not getattr(config, key) and enc.name == spec.defaults.get(key):
            out[key] = source
            if spec.defaults.get(f"{key}_config"):
                out[f"{key}_config"] = source
    for key in spec.defaults:
        if not key.endswith(("_encoder", "_encoder_config")) and key != "num_classes":
            if key not in (config.model_overrides or {}):
                out[f"model_overrides.{key}"] = source
    return out


def _checked_spec(config: TrainConfig, check_paths: bool):
    """The model's registry entry and the parsed `--unfreeze`, after the checks that need no encoder."""
    for name in ("model", "data_dir", "out"):
        if not getattr(config, name):
            raise UsageError(f"--{name.replace('_', '-')} is required")
    spec = get_spec(config.model)
    if not spec.modalities:
        raise UsageError(
            f"{config.model} is a head over other models' outputs and is not trained on posts "
            "by itself; train instagram_wann (which contains it) instead"
        )
    if config.format not in available_formats():
        raise UsageError(f"unknown dataset format {config.format!r}; known: {', '.join(available_formats())}")
    if check_paths and not os.path.exists(config.data_dir):
        raise UsageError(f"--data-dir {config.data_dir}: no such file or folder")
    _check_choice("precision", config.precision, PRECISIONS)
    _check_choice("strategy", config.strategy, STRATEGIES)
    _check_choice("optimizer", config.optimizer, OPTIMIZERS)
    _check_choice("schedule", config.schedule, SCHEDULES)
    _check_choice("feature_mode", config.feature_mode, FEATURE_MODES)
    _check_choice("monitor", config.monitor, MONITORS)
    for name in ("epochs", "batch_size"):
        if int(getattr(config, name)) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if config.weight_decay and config.optimizer != "adamw":
        raise UsageError(
            f"--weight-decay {config.weight_decay:g} needs --optimizer adamw "
            f"({config.optimizer} has no decoupled weight decay)"
        )
    try:
        unfreeze = parse_unfreeze(config.unfreeze)
    except ValueError as e:
        raise UsageError(f"--unfreeze: {e}") from None
    _check_overrides(spec, config.model_overrides)
    return spec, unfreeze


def _check_encoder_options(config: TrainConfig, encoders: dict, unfreeze) -> None:
    """--unfreeze, --encoder-learning-rate and --layer-decay against what the encoders are."""
    pretrained = [e for e in encoders.values() if e.pretrained]
    if unfreeze != 0 and not pretrained:
        raise UsageError(
            f"--unfreeze {config.unfreeze}: {config.model}'s encoders "
            f"({', '.join(e.name for e in encoders.values())}) train from scratch, so there is "
            "nothing frozen to unfreeze"
        )
    trainable_encoders = [e for e in encoders.values() if not e.frozen]
    if config.encoder_learning_rate is not None and not trainable_encoders:
        raise UsageError(
            "--encoder-learning-rate applies to trainable encoder layers, but every encoder is "
            "frozen: add --unfreeze all (or K)"
        )
    if config.layer_decay is not None:
        text = encoders.get("text")
        if text is None or not text.pretrained or text.frozen:
            raise UsageError("--layer-decay needs an unfrozen pretrained text encoder (--unfreeze all or K)")
        if not 0 < config.layer_decay <= 1:
            raise UsageError("--layer-decay must be in (0, 1]")


def _storage_and_augmentation(config: TrainConfig, spec, encoders: dict, notes: list):
    """`(stored modalities, augment, standardised modalities)`: which frozen encoders' outputs come from the
    feature store and whether training images are augmented (notes appended to `notes`)."""
    image = encoders.get("image")
    supports = spec.supports_feature_mode
    composed = [k for k, v in config.model_overrides.items() if k.endswith("_model") and v is not None]
    if composed and not getattr(spec.builder, "feature_mode_with_models", True):
        supports = False
        notes.append(f"composed of trained models ({', '.join(composed)}): it takes raw posts")
    all_frozen = bool(encoders) and all(e.frozen for e in encoders.values())
    augment = config.augment
    if augment and image is None:
        raise UsageError(f"--augment: {config.model} reads no images")
    frozen = [m for m, e in encoders.items() if e.frozen]
    if config.feature_mode == "on":
        if not supports:
            raise UsageError(
                f"--feature-mode on: {config.model} cannot take precomputed features (it is composed of trained models)"
            )
        if not all_frozen:
            trainable = [e.name for e in encoders.values() if not e.frozen]
            raise UsageError(
                f"--feature-mode on needs every encoder pretrained and frozen; {', '.join(trainable)} would train"
            )
        if augment:
            raise UsageError(
                "--feature-mode on cannot honour --augment: stored features are computed once "
                "from the original images (use --feature-mode auto to train on augmented "
                "images in raw mode)"
            )
        if config.tfidf_weight:
            raise UsageError("--tfidf-weight wraps the raw-input model: it cannot be used with --feature-mode on")
        stored = list(encoders)
    elif config.feature_mode == "off" or not supports:
        stored = []
    elif config.tfidf_weight:  # the ensemble wraps the raw-input model (stored features: a head)
        stored = []
    else:  # auto: every frozen encoder's outputs are stored, unless its images must be augmented
        stored = [m for m in frozen if not (m == "image" and augment)]
        if augment and "image" in frozen:
            notes.append(
                "augmentation asked for with a frozen image encoder: the augmented images go through "
                "it at every step (raw mode for images; slower than stored features)"
            )
    if augment is None:  # auto: augment only where the image encoder learns
        augment = bool(image is not None and not image.frozen)
        if image is not None and not augment:
            notes.append(
                "augmentation off: the image encoder is frozen (--augment trains on augmented images through it)"
            )
    if config.standardize_features and "image" not in stored:
        raise UsageError(
            "--standardize-features needs the image encoder's outputs from the feature store "
            "(a pretrained, frozen image encoder, no --augment, --feature-mode auto or on)"
        )
    standardized = ["image"] if "image" in stored and config.standardize_features is not False else []
    if config.balance_to is not None and int(config.balance_to) < 1:
        raise UsageError("--balance-to must be a positive number of posts per class")
    if config.balance_to and not augment:
        notes.append(
            f"classes balanced to {config.balance_to} posts by repeating posts without augmentation "
            "(repeats are identical)"
        )
    return stored, augment, standardized


def _checked_files(config: TrainConfig, encoders: dict, check_paths: bool):
    """The options that name files (GloVe, --init-from, --split-ids, --class-weight) and the split options;
    returns the class weight as the run reads it (an absolute path for a file)."""
    if config.glove:
        text = encoders.get("text")
        if text is None or text.pretrained:
            raise UsageError(
                "--glove initialises the word embeddings of a text encoder trained from scratch "
                f"({config.model}'s text encoder: {text.name if text else 'none'})"
            )
        if check_paths and not os.path.exists(config.glove):
            raise UsageError(f"--glove {config.glove}: no such file")
        encoders["text"] = dataclasses.replace(text, glove=os.path.abspath(config.glove))
    if config.text_transform not in (None, "lemmatise"):
        raise UsageError(f"--text-transform must be lemmatise, got {config.text_transform!r}")
    if config.init_from and check_paths and not os.path.exists(config.init_from):
        raise UsageError(f"--init-from {config.init_from}: no such file")
    if config.split_ids and check_paths and not os.path.isfile(config.split_ids):
        raise UsageError(f"--split-ids {config.split_ids}: no such file")
    if config.holdout_fraction is not None and not 0 < config.holdout_fraction < 1:
        raise UsageError("--holdout-fraction must be between 0 and 1")
    if config.train_on_holdout and config.holdout_fraction is None:
        raise UsageError("--train-on-holdout needs --holdout-fraction")
    if (
        config.class_weight
        and config.class_weight not in BALANCED_WEIGHTS
        and check_paths
        and not os.path.exists(config.class_weight)
    ):
        raise UsageError(
            f"--class-weight {config.class_weight}: neither 'balanced', 'sqrt_balanced' nor an existing JSON file"
        )
    class_weight = config.class_weight
    if class_weight and class_weight not in BALANCED_WEIGHTS and check_paths:
        class_weight = os.path.abspath(class_weight)  # read after the dataset loads: from any working folder
        try:
            with open(class_weight, encoding="utf-8") as f:
                given = json.load(f)
        except (OSError, ValueError) as e:
            raise UsageError(f"--class-weight {config.class_weight}: not a readable JSON file ({e})") from None
        if not isinstance(given, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in given.values()
        ):
            raise UsageError(
                f"--class-weight {config.class_weight}: must be a JSON object of class name -> weight >= 0, "
                'e.g. {"neutral": 2.0}'
            )
    return class_weight


def _format_options(config: TrainConfig, split_seed: int) -> dict:
    """Reader options (one the reader would not use is a usage error naming it); a split the reader draws
    (random, paper002) uses the run's split seed."""
    options = dict(config.format_options or {})
    problem = unknown_option(config.format, options)
    if problem:
        raise UsageError(problem)
    if options.get("split") in ("random", "paper002", "popularity") and "seed" not in options:
        options["seed"] = split_seed
    return options


def preprocessing_settings(config: TrainConfig, encoders: dict[str, EncoderPlan]) -> tuple[int, str, dict]:
    """(image size, normalisation, tokenizer settings) matched to the encoders."""
    image_size = config.image_size
    normalisation = "none"  # a model without images normalises nothing
    if "image" in encoders:
        ispec = image_encoder_spec(encoders["image"].name)
        normalisation = ispec.normalisation
        if encoders["image"].kwargs.get("input_preprocessing") == "none":
            normalisation = "mean_std"  # the encoder takes normalised pixels: the training split's statistics
        image_size = image_size or ispec.image_size or 64
    image_size = int(image_size or 64)
    if "text" in encoders and encoders["text"].pretrained:
        tokenizer = {"kind": "keras_hub", "preset": text_encoder_spec(encoders["text"].name).preset()}
    else:
        tokenizer = {"kind": "vocabulary", **(config.tokenizer_options or {})}
    return image_size, normalisation, tokenizer


def _check_overrides(spec, overrides: dict) -> None:
    accepted = spec.accepted_arguments()
    params = inspect.signature(spec.builder).parameters
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    reserved = {"text_encoder", "image_encoder", "text_feature_shape", "image_feature_shape", "num_classes"}
    for key in overrides:
        if key in reserved:
            flag = {"text_encoder": "--text-encoder", "image_encoder": "--image-encoder"}.get(key)
            raise UsageError(f"--set {key}: " + (f"use {flag}" if flag else "set by the run itself"))
        if key not in accepted and not (takes_kwargs and key in ("name", "dtype")):
            close = difflib.get_close_matches(key, sorted(accepted - reserved), n=1)
            raise UsageError(
                f"--set {key}: {spec.name} has no argument {key!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; it takes {', '.join(sorted(accepted - reserved - {'kwargs'}))}"
            )
