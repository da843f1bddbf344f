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
    private_calls = {
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (pathlib.Path(REPO) / package).rglob("*.py")
        if "._flatten_layers(" in path.read_text(encoding="utf-8")
    }
    assert private_calls <= {"mmsa_keras/keras_compat.py"}  # Keras' private methods too (`nested_layers`)


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


def _shape():
    from benchmarks.code_shape import measure

    return measure()


def test_no_import_cycles_counting_function_local_imports():
    """No module reaches itself through imports, function-local ones included (`benchmarks/code_shape.py`)."""
    shape = _shape()
    assert shape.all_cycles == [] and shape.module_cycles == []


def test_function_local_imports_are_few():
    """A function-local import keeps TensorFlow (or an optional package) out of `--help`; the rest sit at the
    top of their module (docs/ARCHITECTURE.md §8)."""
    assert _shape().local_imports <= 60


def test_the_keras_library_and_the_data_layer_never_import_the_application():
    """Dependencies point one way (docs/ARCHITECTURE.md §1): the data layer imports no `mmsa_keras` and no
    `experiments`; the Keras library (`mmsa_keras` outside `mmsa_keras.app`) imports neither the application
    nor `experiments`; the application never imports `experiments`."""
    upward = []
    for module, targets in _shape().all_imports.items():
        if module.startswith("data_pipelines"):
            banned = ("mmsa_keras", "experiments")
        elif module.startswith("mmsa_keras.app"):
            banned = ("experiments",)
        elif module.startswith("mmsa_keras"):
            banned = ("mmsa_keras.app", "experiments")
        else:
            continue
        upward += [f"{module} -> {t}" for t in targets if t.split(".")[0] in banned or t.startswith(banned)]
    assert upward == []


def test_the_run_plan_is_frozen_data():
    """The plan says what to build; `mmsa_keras.app.builders` builds it (docs/ARCHITECTURE.md §5)."""
    import dataclasses

    from mmsa_keras.app import plan

    parts = (plan.EncoderPlan, plan.PreprocessingPlan, plan.OptimizerPlan, plan.StoppingPlan, plan.DataPlan)
    for cls in (plan.RunPlan, *parts):
        assert cls.__dataclass_params__.frozen, cls
        builders = [n for n in vars(cls) if n.startswith(("build", "make")) and callable(getattr(cls, n))]
        assert builders == [], (cls, builders)
    assert dataclasses.is_dataclass(plan.RunPlan)
