"""Every option of `train`, `cv`, `evaluate`, `compare` and `reproduce` changes what runs or is refused.

Each option is given alone on top of a base command (in a context where it applies, e.g. `--layer-decay`
with an unfrozen MiniLM); the plan resolved from it must differ from the base command's plan, with the
setting's source recorded as typed, or `make_plan` must refuse it with a usage error. The few options
that do not shape the plan are listed with the test that checks them. `evaluate` and `compare` are run
against stand-ins that record the calls they make; `reproduce` resolves every row's plan with `--dry-run`.
"""

import argparse
import os

import pytest

from mmsa_keras.app.cli import _train_config, build_parser
from mmsa_keras.app.plan import make_plan
from mmsa_keras.errors import UsageError
from tests.conftest import REPO

DATA = os.path.join(REPO, "tests", "fixtures", "mvsa_single_real")
OTHER = os.path.join(REPO, "tests", "fixtures")
FROZEN = ["--text-encoder", "minilm_l6", "--image-encoder", "resnet50"]  # pretrained, frozen by default

#: option -> (its arguments, the context it applies in)
CASES = {
    "--recipe": (["mvsa"], []),
    "--model": (["cmac"], []),
    "--data-dir": ([OTHER], []),
    "--format": (["table"], []),
    "--epochs": (["3"], []),
    "--batch-size": (["7"], []),
    "--seed": (["5"], []),
    "--split-seed": (["9"], []),
    "--precision": (["float32"], []),
    "--strategy": (["none"], []),
    "--learning-rate": (["0.5"], []),
    "--patience": (["9"], []),
    "--monitor": (["val_accuracy"], []),
    "--no-early-stopping": ([], []),
    "--image-size": (["48"], []),
    "--image-source-size": (["16"], []),
    "--sequence-length": (["9"], []),
    "--text-encoder": (["bilstm"], []),
    "--image-encoder": (["alexnet"], []),
    "--image-weights": (["none"], ["--image-encoder", "resnet50"]),
    "--set": (["hidden_dim=7"], []),
    "--augment": ([], FROZEN),
    "--no-augment": ([], []),
    "--balance-to": (["10"], []),
    "--class-weight": (["balanced"], []),
    "--optimizer": (["sgd"], []),
    "--weight-decay": (["0.1"], ["--optimizer", "adamw"]),
    "--momentum": (["0.5"], []),
    "--warmup-steps": (["5"], []),
    "--schedule": (["cosine"], []),
    "--unfreeze": (["all"], FROZEN),
    "--encoder-learning-rate": (["1e-5"], [*FROZEN, "--unfreeze", "all"]),
    "--layer-decay": (["0.8"], [*FROZEN, "--unfreeze", "all"]),
    "--feature-mode": (["off"], FROZEN),
    # auto standardises stored image features already; typed, it demands them: refused without a stored image
    "--standardize-features": ([], []),
    "--no-standardize-features": ([], FROZEN),
    "--feature-store": ([OTHER], FROZEN),
    "--glove": (["glove.txt"], []),
    "--text-transform": (["lemmatise"], []),
    "--init-from": (["other.keras"], []),
    "--split-ids": (["splits.json"], []),
    "--holdout-fraction": (["0.2"], []),
    "--dedup": (["drop-from-train"], []),
    "--test-split": ([], ["--recipe", "mvsa"]),  # the recipe turns the test split off
    "--no-test-split": ([], []),
    "--train-on-holdout": ([], ["--holdout-fraction", "0.2"]),
    "--no-calibrate": ([], []),
    "--tfidf-weight": (["0.3"], []),
    "--allow-outside-paths": ([], []),
    "--protocol": (["B"], []),
    "--split-by": (["random"], []),
    "--layout": (["json"], []),
    "--class-names": (["a,b,c"], ["--format", "emotion_folders"]),
    "--option": (["text_source=json"], ["--layout", "json"]),
}
#: the options refused in their context, and why (every other option must change the plan)
REFUSED = {"--standardize-features": "needs the image encoder's outputs from the feature store"}
#: options that do not shape the plan, each checked where it acts
NOT_IN_PLAN = {
    "--out": "the run directory itself (tests/test_safety.py: which folders may be written)",
    "--force": "clears the run's own files (tests/test_safety.py)",
    "--tensorboard": "adds the TensorBoard callback (tests/mmsa_keras/test_training.py)",
    "--folds": "cv's own loop (tests/test_cli.py::test_cross_validation_from_the_command_line)",
    "--seeds": "cv's own loop (same test)",
    "--validation-fraction": "cv's own split of each fold (same test)",
}


def _options(command: str) -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [s for a in sub.choices[command]._actions for s in a.option_strings if s not in ("-h", "--help")]


@pytest.mark.parametrize("command", ["train", "cv"])
def test_every_option_is_listed(command):
    assert set(_options(command)) == set(CASES) | {k for k in NOT_IN_PLAN if k in _options(command)}


def _plan(command: str, args: list[str], tmp_path):
    base = ["--model", "native_cat", "--data-dir", DATA, "--format", "mvsa", "--out", str(tmp_path / "run")]
    parsed = build_parser().parse_args([command, *base, *args])
    config = _train_config(parsed, "results" if command == "cv" else "run")
    return make_plan(config, check_paths=False)


def _resolved(plan) -> dict:
    return {k: v for k, v in plan.to_dict().items() if k != "sources"}


@pytest.mark.parametrize("command", ["train", "cv"])
@pytest.mark.parametrize("option", sorted(CASES))
def test_each_option_changes_the_plan_or_is_refused(command, option, tmp_path, minilm_installed):
    values, context = CASES[option]
    base = _plan(command, context, tmp_path)
    if option in REFUSED:
        with pytest.raises(UsageError, match=REFUSED[option]):
            _plan(command, [*context, option, *values], tmp_path)
        return
    plan = _plan(command, [*context, option, *values], tmp_path)
    assert _resolved(plan) != _resolved(base), f"{option} was accepted and changed nothing"
    dest = option.removeprefix("--no-").removeprefix("--").replace("-", "_")
    dest = {"set": "model_overrides.hidden_dim", "option": "format_options.text_source"}.get(dest, dest)
    reader = {"protocol": "protocol", "split_by": "split", "layout": "layout", "class_names": "class_names"}
    dest = f"format_options.{reader[dest]}" if dest in reader else dest
    assert plan.sources.get(dest) == "typed", (option, plan.sources)


def test_the_plan_says_where_each_setting_came_from(tmp_path):
    plan = _plan("train", ["--recipe", "mvsa", "--epochs", "2"], tmp_path)
    assert plan.sources["epochs"] == "typed" and plan.sources["learning_rate"] == "recipe mvsa"
    lines = plan.describe()
    assert any(line.startswith("set by recipe mvsa: ") and "learning_rate" in line for line in lines)
    assert any(line.startswith("set by the command line: ") and "epochs" in line for line in lines)
    assert "epochs" not in next(line for line in lines if line.startswith("set by recipe mvsa"))


def test_the_models_registered_defaults_are_a_recorded_layer(tmp_path):
    """defaults < the model's registered defaults < recipe < table < row < typed: joint_fusion's own encoder
    (and its settings) is recorded as the model's; a typed encoder wins and takes none of the model's settings."""
    plan = _plan("train", ["--model", "joint_fusion"], tmp_path)
    assert plan.encoders["text"].name == "bag_of_embeddings" and plan.encoders["text"].kwargs["hidden_dim"] == 200
    assert plan.sources["text_encoder"] == plan.sources["text_encoder_config"] == "model joint_fusion"
    assert any(line.startswith("set by model joint_fusion: text_encoder") for line in plan.describe())
    typed = _plan("train", ["--model", "joint_fusion", "--text-encoder", "bilstm"], tmp_path)
    assert typed.sources["text_encoder"] == "typed" and "text_encoder_config" not in typed.sources
    assert "hidden_dim" not in typed.encoders["text"].kwargs


def test_create_model_gives_the_models_encoder_settings_to_its_own_encoder_only(monkeypatch):
    """The registry merges a model's encoder defaults by the plan's rule: `create_model("joint_fusion",
    text_encoder="bilstm")` builds bilstm without joint_fusion's bag-of-embeddings settings."""
    import mmsa_keras.registry as registry

    built = []

    def spy(name, **kwargs):
        built.append((name, kwargs))
        raise StopIteration

    monkeypatch.setattr(registry, "build_text_encoder", spy)
    for encoder in ("bilstm", "bag_of_embeddings"):
        with pytest.raises(StopIteration):
            registry.create_model("joint_fusion", text_encoder=encoder, image_encoder="small_cnn", num_classes=3)
    assert built == [("bilstm", {}), ("bag_of_embeddings", {"hidden_dim": 200, "pooling": "max", "dropout": 0.25})]


# ============================================================================ evaluate and compare
#: the flags that describe the dataset of --data-dir (refused without it)
DATASET_FLAGS = {
    "--format": ["table"],
    "--protocol": ["B"],
    "--split-by": ["random"],
    "--layout": ["json"],
    "--class-names": ["a,b,c"],
    "--option": ["text_source=json"],
}
WITH_DATA = ["--data-dir", DATA]
#: evaluate / compare option -> (its arguments, the context it applies in)
READ_CASES = {
    "--split": (["validation"], []),
    "--data-dir": ([DATA], []),
    "--json": ([], []),
    **{flag: (values, WITH_DATA) for flag, values in DATASET_FLAGS.items()},
}
EVALUATE_CASES = {**READ_CASES, "--errors": (["5"], [])}
COMPARE_CASES = {**READ_CASES, "--seed": (["3"], [])}

METRICS = {
    "accuracy": 0.5,
    "weighted": {"f1": 0.5},
    "macro": {"f1": 0.5},
    "num_examples": 4,
    "intervals": None,
    "per_class": {},
    "confusion_matrix": [[1]],
    "class_names": ["a"],
}


def _what_evaluate_does(args: list[str], monkeypatch, capsys, tmp_path) -> tuple:
    """`mmsa evaluate RUN ARGS` against a stand-in run: the calls it makes and what it prints."""
    import mmsa_keras.app.runs as runs

    calls = []

    class StandIn:
        def __init__(self, run_dir):
            self.plan = argparse.Namespace(data=argparse.Namespace(format="mvsa", data_dir=DATA))

        def require_model(self):
            pass

        def evaluate(self, *a, **k):
            calls.append(("evaluate", a, k))
            return METRICS

        def evaluate_on(self, *a, **k):
            calls.append(("evaluate_on", a, k))
            return METRICS

    monkeypatch.setattr(runs, "Run", StandIn)
    parsed = build_parser().parse_args(["evaluate", str(tmp_path), *args])
    parsed.func(parsed)
    return calls, capsys.readouterr().out


def _what_compare_does(args: list[str], monkeypatch, capsys, tmp_path) -> tuple:
    import mmsa_keras.app.compare as compare

    calls = []

    def stand_in(*a, **k):
        calls.append((a, k))
        return {"n": 4}

    monkeypatch.setattr(compare, "compare", stand_in)
    monkeypatch.setattr(compare, "format_comparison", lambda result: "table")
    parsed = build_parser().parse_args(["compare", str(tmp_path), str(tmp_path), *args])
    parsed.func(parsed)
    return calls, capsys.readouterr().out


@pytest.mark.parametrize("command, cases", [("evaluate", EVALUATE_CASES), ("compare", COMPARE_CASES)])
def test_every_evaluate_and_compare_option_is_listed(command, cases):
    assert set(_options(command)) == set(cases)


@pytest.mark.parametrize(
    "command, option",
    [("evaluate", o) for o in sorted(EVALUATE_CASES)] + [("compare", o) for o in sorted(COMPARE_CASES)],
)
def test_each_evaluate_and_compare_option_changes_what_runs(command, option, monkeypatch, capsys, tmp_path):
    """Each option, given alone (in its context), changes the calls made or what is printed."""
    values, context = (EVALUATE_CASES if command == "evaluate" else COMPARE_CASES)[option]
    what = _what_evaluate_does if command == "evaluate" else _what_compare_does
    base = what(context, monkeypatch, capsys, tmp_path)
    assert what([*context, option, *values], monkeypatch, capsys, tmp_path) != base, f"{option} changed nothing"


@pytest.mark.parametrize("command", ["evaluate", "compare"])
@pytest.mark.parametrize("flag", sorted(DATASET_FLAGS))
def test_dataset_flags_without_a_dataset_are_refused(command, flag, monkeypatch, capsys, tmp_path):
    """Without --data-dir the run's own posts are read as the run read them: a dataset flag would change
    nothing, so it is a usage error naming it."""
    what = _what_evaluate_does if command == "evaluate" else _what_compare_does
    with pytest.raises(UsageError, match=f"{flag} describes the dataset of --data-dir"):
        what([flag, *DATASET_FLAGS[flag]], monkeypatch, capsys, tmp_path)


# ============================================================================ reproduce
TABLE = "bert_resnet/table4"
#: reproduce option -> (its arguments, the context it applies in, the table)
REPRODUCE_CASES = {
    "--data-dir": ([DATA], [], TABLE),
    "--format": (["mvsa"], WITH_DATA, "joint_fusion/table4"),  # its split option is one the mvsa reader takes
    "--protocol": (["B"], WITH_DATA, TABLE),
    "--option": (["text_source=json"], WITH_DATA, TABLE),
    "--image-weights": (["none"], WITH_DATA, TABLE),
    "--finetune": ([], WITH_DATA, TABLE),
    "--seeds": (["2"], [], TABLE),
    "--vary-split": ([], ["--seeds", "2"], TABLE),
    "--smoke": ([], [], TABLE),
    "--text-encoder": (["bilstm"], [], TABLE),
    "--image-encoder": (["alexnet"], [], TABLE),
    "--epochs": (["1"], [], TABLE),
    "--rows": (["Bert"], [], TABLE),
    "--variant": (["flickr"], [], "joint_fusion/table4"),
    "--glove": (["glove.txt"], [], "joint_fusion/table4"),
}
#: reproduce options that do not shape what runs, each checked where it acts
REPRODUCE_NOT_IN_PLAN = {
    "--list": "lists the tables (tests/test_cli.py)",
    "--out": "where the report goes (tests/test_safety.py: which folders may be written)",
    "--dry-run": "this test's own switch: what would run, nothing run",
}


def _reproduce_plan(table: str, args: list[str], tmp_path) -> dict:
    from experiments.cli import reproduce_arguments
    from experiments.runner import reproduce

    parsed = build_parser().parse_args(["reproduce", table, "--dry-run", "--out", str(tmp_path), *args])
    planned = reproduce(table, **reproduce_arguments(parsed))
    for row in planned["rows"].values():
        for plan in row["plans"]:
            plan.pop("sources")
    return planned


def test_every_reproduce_option_is_listed():
    assert set(_options("reproduce")) == set(REPRODUCE_CASES) | set(REPRODUCE_NOT_IN_PLAN)


@pytest.mark.parametrize("option", sorted(REPRODUCE_CASES))
def test_each_reproduce_option_changes_what_runs(option, tmp_path, monkeypatch):
    """`mmsa reproduce T --dry-run` resolves every row's plan without reading or training: each option, given
    alone in its context, changes those plans, the rows or the departures the report declares."""
    monkeypatch.chdir(REPO)
    values, context, table = REPRODUCE_CASES[option]
    base = _reproduce_plan(table, context, tmp_path)
    assert _reproduce_plan(table, [*context, option, *values], tmp_path) != base, f"{option} changed nothing"
    assert not os.listdir(tmp_path)  # a dry run writes nothing


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "table"], "--format describes the paper's data: give --data-dir"),
        (["--option", "layout=json"], "--option describes the paper's data"),
        (["--image-weights", "none"], "--image-weights describes the paper's data"),
        (["--protocol", "B"], "--protocol describes the paper's data"),
        (["--glove", "glove.txt"], "--glove: no row of bert_resnet/table4"),
        (["--variant", "flickr"], "--variant flickr: not a variant of bert_resnet/table4"),
        ([*WITH_DATA, "--option", "no_such=1"], "--option no_such: the mvsa reader has no option 'no_such'"),
        # the table's reader options are the paper's dataset's: a format that cannot take them is named
        ([*WITH_DATA, "--format", "table"], "--protocol: the table reader has no option 'protocol'"),
    ],
)
def test_reproduce_settings_no_row_would_read_are_refused(args, message, tmp_path):
    with pytest.raises(UsageError, match=message):
        _reproduce_plan(TABLE, args, tmp_path)
