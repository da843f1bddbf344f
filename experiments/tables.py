"""Typed table configs: `TableConfig` and `Row`, validated when a config file is loaded.

A table config is a plain Python file `experiments/configs/<paper>_<table>.py`
whose `get_config(smoke=False)` returns a dict (docs/ARCHITECTURE.md §4). Loading
turns it into a `TableConfig` and checks it: an unknown key (at the table,
dataset or row level), an unknown model, training setting, metric or row kind,
a row that uses a row defined after it, a model override the model does not
take — each fails with the file and the key. The list of tables
(`mmsa reproduce --list`) is the list of config files.

Each row declares its known departures from the paper (`departures`); the
table may declare departures shared by all its rows. The runner adds what the
run itself changed (see `experiments.runner`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
from typing import Any

from mmsa_keras.app.config import TRAIN_FIELDS
from mmsa_keras.errors import UsageError

PAPERS = ("instagram_wann", "mvsa_mha", "bert_resnet", "mvso_gated", "joint_fusion")
ROW_KINDS = ("keras", "without", "random_forest", "tfidf_svm", "wann_pairs")
UNITS = ("percent", "fraction")
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


class ConfigError(UsageError):
    """A table config that cannot run as written (file and key named)."""


@dataclasses.dataclass
class DatasetSpec:
    name: str
    format: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    keep_classes: list[str] | None = None
    default_variant: str | None = None
    #: what the paper's split is (for the report): e.g. "3,200 / 800 / 512"
    split_description: str | None = None
    #: reader options per dataset variant (paper 004's Flickr filters)
    variant_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Row:
    name: str
    kind: str = "keras"
    model: str | None = None
    paper: dict[str, Any] = dataclasses.field(default_factory=dict)
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    smoke_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    uses: dict[str, str] = dataclasses.field(default_factory=dict)
    text_encoder: str | None = None
    image_encoder: str | None = None
    paper_image_encoder: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    smoke_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    from_row: str | None = None
    drop: str | None = None
    rows: list[str] = dataclasses.field(default_factory=list)
    departures: list[str] = dataclasses.field(default_factory=list)
    #: a row whose trained model this row starts from (Table 9: the best classical model)
    init_from: str | None = None
    #: the table's held-out part of the training split: "main" trains on the rest, "holdout" on it
    #: (paper 000: the unimodal models never see the posts the WANN learns from)
    holdout: str | None = None
    #: settings that are part of the row's architecture, applied on any data (Table 6: 32x32 pixels)
    architecture: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: model overrides per dataset variant (paper 004: g = 3 negatives for Reddit, 4 for Flickr)
    variant_overrides: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: the row's own paper-faithful text transform / glove use
    notes: str = ""


@dataclasses.dataclass
class TableConfig:
    name: str
    file: str
    title: str
    paper: str
    dataset: DatasetSpec
    split: str
    unit: Any
    metrics: list[str]
    class_names: list[str]
    paper_encoders: str
    encoders: dict[str, Any]
    embedded_encoders: dict[str, Any]
    training: dict[str, Any]
    embedded_training: dict[str, Any]
    rows: list[Row]
    synthetic: dict[str, Any]
    finetune: dict[str, Any] | None = None
    #: why --finetune cannot apply, if the table has no finetune block
    finetune_note: str | None = None
    encoder_configs: dict[str, Any] = dataclasses.field(default_factory=dict)
    departures: list[str] = dataclasses.field(default_factory=list)
    #: the fraction of the training split held out for rows with `holdout` set
    holdout_fraction: float | None = None
    #: where the paper's labels came from when the reader can say ("text": paper 003 Tables 1-4)
    expected_labels: str | None = None
    #: which model arguments take GloVe vectors with --glove ("label_vectors"), and whether the text
    #: encoders trained from scratch take GloVe embeddings ("embeddings")
    glove_uses: list[str] = dataclasses.field(default_factory=list)
    notes: str = ""
    smoke: bool = False

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


# ============================================================================ loading
def metric_value(metrics: dict, key: str) -> float:
    """A metric from an evaluation dict: accuracy, precision/recall/f1 (weighted),
    f1_macro, f1_micro, or <precision|recall|f1>_<class name>."""
    if key == "accuracy":
        return metrics["accuracy"]
    if key in ("precision", "recall", "f1"):
        return metrics["weighted"][key]
    if key == "f1_macro":
        return metrics["macro"]["f1"]
    if key == "f1_micro":
        return metrics["micro_f1"]
    kind, _, cls = key.partition("_")
    if kind not in ("precision", "recall", "f1"):
        raise KeyError(key)
    return metrics["per_class"][cls][kind]


def table_names() -> list[str]:
    """Every table, derived from the config files `<paper>_<table>.py`."""
    names = []
    for file in sorted(os.listdir(CONFIG_DIR)):
        stem, ext = os.path.splitext(file)
        if ext != ".py" or stem.startswith("_"):
            continue
        for paper in PAPERS:
            if stem.startswith(paper + "_"):
                names.append(f"{paper}/{stem[len(paper) + 1 :]}")
                break
    return names


def module_name(table: str) -> str:
    return "experiments.configs." + table.replace("/", "_")


def list_tables() -> list[tuple[str, str]]:
    return [(name, load_table(name).title) for name in table_names()]


def load_table(name: str, smoke: bool = False) -> TableConfig:
    if name not in table_names():
        close = difflib.get_close_matches(name, table_names(), n=1)
        raise UsageError(
            f"unknown table {name!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + "; `mmsa reproduce --list` shows them"
        )
    module = importlib.import_module(module_name(name))
    file = os.path.relpath(module.__file__, os.path.dirname(CONFIG_DIR))
    return table_from_dict(name, module.get_config(smoke=smoke), file, smoke)


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_keys(d: dict, cls, where: str, file: str, skip=()) -> None:
    known = _fields(cls) - set(skip)
    for key in d:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise ConfigError(
                f"{file}: {where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )


def table_from_dict(name: str, d: dict, file: str = "<config>", smoke: bool = False) -> TableConfig:
    """Validate a `get_config()` dict and build the `TableConfig` (see the module docstring)."""
    from mmsa_keras.registry import get_spec, model_names

    d = dict(d)
    d.pop("name", None)
    _check_keys(d, TableConfig, "table", file, skip=("name", "file", "smoke"))
    for key in ("title", "paper", "dataset", "split", "unit", "metrics", "rows", "paper_encoders"):
        if key not in d:
            raise ConfigError(f"{file}: table: missing key {key!r}")
    ds = dict(d.pop("dataset"))
    _check_keys(ds, DatasetSpec, "dataset", file)
    dataset = DatasetSpec(**ds)
    rows = []
    for i, raw in enumerate(d.pop("rows")):
        where = f"rows[{i}] ({raw.get('name', '?')!r})"
        _check_keys(raw, Row, where, file)
        row = Row(**raw)
        if row.kind not in ROW_KINDS:
            raise ConfigError(f"{file}: {where}: unknown kind {row.kind!r}; known: {', '.join(ROW_KINDS)}")
        if row.kind == "keras":
            if not row.model:
                raise ConfigError(f"{file}: {where}: a keras row needs 'model'")
            if row.model not in model_names():
                close = difflib.get_close_matches(row.model, model_names(), n=1)
                raise ConfigError(
                    f"{file}: {where}: unknown model {row.model!r}"
                    + (f" (did you mean {close[0]!r}?)" if close else "")
                )
            spec = get_spec(row.model)
            accepted = spec.accepted_arguments()
            for key in list(row.overrides) + list(row.smoke_overrides) + list(row.uses):
                if key not in accepted:
                    raise ConfigError(f"{file}: {where}: {row.model} takes no argument {key!r}")
            for block in ("training", "architecture"):
                for key in getattr(row, block):
                    if key not in TRAIN_FIELDS:
                        raise ConfigError(f"{file}: {where}: {block}: unknown setting {key!r}")
            for variant, overrides in row.variant_overrides.items():
                for key in overrides:
                    if key not in accepted:
                        raise ConfigError(
                            f"{file}: {where}: variant {variant!r}: {row.model} takes no argument {key!r}"
                        )
        if row.holdout not in (None, "main", "holdout"):
            raise ConfigError(f"{file}: {where}: holdout must be 'main' or 'holdout'")
        earlier = {r.name for r in rows}
        for ref in (
            list(row.uses.values())
            + ([row.from_row] if row.from_row else [])
            + row.rows
            + ([row.init_from] if row.init_from else [])
        ):
            if ref not in earlier:
                raise ConfigError(f"{file}: {where}: refers to row {ref!r}, which is not defined before it")
        if row.kind == "without" and row.drop not in ("text", "image"):
            raise ConfigError(f"{file}: {where}: drop must be 'text' or 'image'")
        if row.name in earlier:
            raise ConfigError(f"{file}: {where}: a second row named {row.name!r}")
        rows.append(row)
    for block in ("training", "embedded_training", "finetune"):
        for key in d.get(block) or {}:
            if key not in TRAIN_FIELDS:
                raise ConfigError(f"{file}: {block}: unknown training setting {key!r}")
    unit = d["unit"]
    units = unit.values() if isinstance(unit, dict) else [unit]
    if any(u not in UNITS for u in units):
        raise ConfigError(f"{file}: unit must be percent or fraction (or a dict of them), got {unit!r}")
    probe = {
        "accuracy": 0,
        "weighted": {"precision": 0, "recall": 0, "f1": 0},
        "macro": {"f1": 0},
        "micro_f1": 0,
        "per_class": {c: {"precision": 0, "recall": 0, "f1": 0} for c in d.get("class_names", [])},
    }
    for metric in d["metrics"]:
        try:
            metric_value(probe, metric)
        except (KeyError, TypeError):
            raise ConfigError(f"{file}: metrics: unknown metric {metric!r}") from None
    if any(r.holdout for r in rows) and not d.get("holdout_fraction"):
        raise ConfigError(f"{file}: rows use a held-out part but the table sets no holdout_fraction")
    if d.get("finetune") is None and not d.get("finetune_note"):
        d["finetune_note"] = "this table's paper trained no pretrained encoder end to end"
    d.setdefault("encoder_configs", {})
    return TableConfig(name=name, file=file, dataset=dataset, rows=rows, smoke=smoke, **d)
