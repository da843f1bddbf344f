"""The application: what turns settings into runs and runs into numbers, files and answers.

`config` and `recipes` (settings, one precedence with provenance), `plan` (the resolved plan),
`training` (fit and resume), `runs` (the run directory), `evaluation`,
`cv` and `compare`, `export` and `serving`, `explain` and its report, `gallery`, `baseline_runs`, and
the `mmsa` command (`cli`). It builds on the Keras library beside it (`mmsa_keras.layers`, `models`,
`encoders`, `losses`, `optimizers`, `registry`), which never imports from here
(docs/ARCHITECTURE.md §1; checked by tests/test_layout.py).
"""

from __future__ import annotations

import importlib

_SUBMODULES = (
    "baseline_runs",
    "cli",
    "compare",
    "config",
    "cv",
    "evaluation",
    "explain",
    "explain_report",
    "export",
    "features_cli",
    "gallery",
    "jsonfiles",
    "plan",
    "recipes",
    "runs",
    "serving",
    "training",
)
__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    """`mmsa_keras.app.training` and its neighbours load on first use (`mmsa --help` stays TensorFlow-free)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"mmsa_keras.app.{name}")
    raise AttributeError(f"module 'mmsa_keras.app' has no attribute {name!r}")
