"""Dataset readers, selected by `--format`.

Every reader takes a path and returns a `MultimodalDataset`; the problems it
found are recorded in the `DataReport` it is given.
"""

from __future__ import annotations

from typing import Callable

from data_pipelines.post import MultimodalDataset
from data_pipelines.report import DataReport

_READERS: dict[str, Callable[..., MultimodalDataset]] = {}


def register_reader(name: str):
    def wrap(fn):
        _READERS[name] = fn
        return fn

    return wrap


def available_formats() -> list[str]:
    _import_all()
    return sorted(_READERS)


def load_dataset(
    path: str, format: str, report: DataReport | None = None, **options
) -> MultimodalDataset:
    """Read the dataset at `path` with the reader registered as `format`."""
    _import_all()
    if format not in _READERS:
        raise ValueError(f"unknown dataset format {format!r}; known: {sorted(_READERS)}")
    return _READERS[format](path, report=report if report is not None else DataReport(), **options)


def _import_all() -> None:
    from data_pipelines.datasets import crowdflower, emotion_folders, mvsa, table, twitter_csv, vso  # noqa: F401
