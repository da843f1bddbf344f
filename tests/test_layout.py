"""The code's layout rules that a reader relies on (docs/ARCHITECTURE.md §8)."""

import ast
import pathlib

from tests.conftest import REPO

PACKAGES = ("mmsa_keras", "data_pipelines", "experiments", "benchmarks")


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_private_keras_modules_are_imported_only_by_the_compat_module():
    users = {
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (pathlib.Path(REPO) / package).rglob("*.py")
        if any(name == "keras.src" or name.startswith("keras.src.") for name in _imports(path))
    }
    assert users == {"mmsa_keras/keras_compat.py"}


def test_no_function_in_the_packages_is_over_100_lines():
    """One job per function: `python benchmarks/code_shape.py` lists the longest."""
    long = [
        f"{path.relative_to(REPO)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for package in ("mmsa_keras", "data_pipelines", "experiments")
        for path in (pathlib.Path(REPO) / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 100
    ]
    assert long == []
