"""Every option of `train` and `cv` changes the resolved plan (and says it was typed) or is refused.

Each option is given alone on top of a base command (in a context where it applies, e.g. `--layer-decay`
with an unfrozen MiniLM); the plan resolved from it must differ from the base command's plan, with the
setting's source recorded as typed, or `make_plan` must refuse it with a usage error. The few options
that do not shape the plan are listed with the test that checks them.
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
