"""Dataset readers, selected by `--format`.

Every reader takes a path and returns a `MultimodalDataset`; the problems it
found are recorded in the `DataReport` it is given.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

from data_pipelines.paths import dataset_root
from data_pipelines.post import MultimodalDataset
from data_pipelines.report import DataReport

#: the dataset formats (`--format NAME`), each read by the module of the same name in this package
FORMATS = ("mvsa", "table", "twitter_csv", "crowdflower", "vso", "emotion_folders")

_READERS: dict[str, Callable[..., MultimodalDataset]] = {}


def register_reader(name: str):
    def wrap(fn):
        _READERS[name] = fn
        return fn

    return wrap


def available_formats() -> list[str]:
    _import_all()
    return sorted(_READERS)


#: options every format takes (`load_dataset`'s own, and the dataset wall of `data_pipelines.paths`)
COMMON_OPTIONS = ("keep_classes", "allow_outside_paths")

#: the command-line flag each reader option comes from (others: `--option KEY=VALUE`)
OPTION_FLAGS = {"split": "--split-by", "protocol": "--protocol", "layout": "--layout", "class_names": "--class-names"}


def reader_options(format: str) -> list[str]:
    """The options the reader of `format` takes (its named parameters and `COMMON_OPTIONS`)."""
    _import_all()
    params = inspect.signature(_READERS[format]).parameters.values()
    named = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD or p.kind == p.KEYWORD_ONLY]
    return sorted(set(named) - {"path", "report"} | set(COMMON_OPTIONS))


def unknown_option(format: str, options) -> str | None:
    """One line naming the first option the reader of `format` would not use, or None."""
    _import_all()
    if format not in _READERS:
        return None
    accepted = reader_options(format)
    for key in options or {}:
        if key not in accepted:
            flag = OPTION_FLAGS.get(key, f"--option {key}")
            takes = [OPTION_FLAGS.get(k, k) for k in accepted if k not in COMMON_OPTIONS]
            return f"{flag}: the {format} reader has no option {key!r} (it takes: {', '.join(takes) or 'none'})"
    return None


def load_dataset(
    path: str, format: str, report: DataReport | None = None, keep_classes=None, **options
) -> MultimodalDataset:
    """Read the dataset at `path` with the reader registered as `format`.

    `keep_classes` (e.g. `("negative", "positive")` for the 2-class tables)
    keeps only posts of those classes, relabelled in that order; the posts left
    out are counted as dropped rows.
    """
    _import_all()
    if format not in _READERS:
        raise ValueError(f"unknown dataset format {format!r}; known: {sorted(_READERS)}")
    problem = unknown_option(format, options)
    if problem:  # a reader never drops an option silently
        raise ValueError(problem)
    report = report if report is not None else DataReport()
    with dataset_root(path, bool(options.get("allow_outside_paths")), extra=(options.get("image_dir"),)):
        dataset = _READERS[format](path, report=report, **options)
    if keep_classes:
        dataset = restrict_classes(dataset, keep_classes, report)
    if not any(p.label is not None for p in dataset.all_posts()):
        raise ValueError(
            f"{path}: no labelled posts ({format} format"
            + (f"; {report.summary().splitlines()[1].strip()}" if report else "")
            + ")"
        )
    return dataset


def restrict_classes(dataset: MultimodalDataset, keep, report: DataReport) -> MultimodalDataset:
    """Keep only the posts of the classes in `keep`, relabelled in that order."""
    keep = tuple(keep)
    missing = [c for c in keep if c not in dataset.class_names]
    if missing:
        raise ValueError(f"{dataset.name}: no class {missing} (classes: {list(dataset.class_names)})")
    new_id = {dataset.class_names.index(c): i for i, c in enumerate(keep)}
    splits = {}
    for split, posts in dataset.splits.items():
        kept = []
        for p in posts:
            if p.label is None or p.label in new_id:
                p.label = None if p.label is None else new_id[p.label]
                kept.append(p)
            else:
                report.add(
                    "dropped_row",
                    p.meta.get("source", dataset.name),
                    f"post {p.id}: class {dataset.class_names[p.label]!r} not kept",
                    p.meta.get("line"),
                )
        splits[split] = kept
    return MultimodalDataset(dataset.name, keep, splits, list(dataset.notes))


def _import_all() -> None:
    """Import every reader module (each registers its reader); the formats load on first use, so a command
    that only parses its flags never imports them."""
    for name in FORMATS:
        importlib.import_module(f"data_pipelines.datasets.{name}")
