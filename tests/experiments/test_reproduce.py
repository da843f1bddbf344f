import importlib
import json
import os

import pytest

from experiments.runner import reproduce, unit_of
from experiments.tables import (
    CONFIG_DIR,
    ConfigError,
    load_table,
    metric_value,
    module_name,
    table_from_dict,
    table_names,
)
from tests.helpers import parse_report

TABLES = table_names()
# one smoke reproduction per paper in the default run (paper 002's Table 4 runs from the command line in
# tests/test_cli.py); the other tables' smoke runs are the long end-to-end ones: `slow`, run by CI's second step
DEFAULT_SMOKE = {
    "instagram_wann/unimodal",
    "instagram_wann/baselines",
    "mvsa_mha/results",
    "mvso_gated/table4",
    "mvso_gated/test",
    "joint_fusion/table4",
}
assert DEFAULT_SMOKE <= set(TABLES)
SMOKE_PARAMS = [pytest.param(t, marks=() if t in DEFAULT_SMOKE else pytest.mark.slow) for t in TABLES]


def test_every_config_file_is_a_listed_table_and_every_table_loads():
    files = sorted(f[:-3] for f in os.listdir(CONFIG_DIR) if f.endswith(".py") and not f.startswith("_"))
    assert sorted(n.replace("/", "_") for n in TABLES) == files and len(TABLES) == 18
    for name in TABLES:
        cfg = load_table(name)
        assert cfg.rows and cfg.metrics and cfg.title
        assert any(r.paper for r in cfg.rows), name  # the paper's numbers are in every config
        smoke = load_table(name, smoke=True)
        assert smoke.synthetic["posts"] < cfg.synthetic["posts"]


def _bad(change):
    d = importlib.import_module(module_name("bert_resnet/table4")).get_config(smoke=False)
    d = {**d, "rows": [dict(r) for r in d["rows"]]}
    change(d)
    return d


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.update(titel="x"), "table: unknown key 'titel' (did you mean 'title'?)"),
        (lambda d: d["rows"][0].update(modle="cmac"), "unknown key 'modle' (did you mean 'model'?)"),
        (lambda d: d["rows"][2].update(model="cmak"), "unknown model 'cmak'"),
        (lambda d: d["rows"][2].update(training={"epohcs": 3}), "unknown setting 'epohcs'"),
        (lambda d: d["rows"][2].update(kind="svm"), "unknown kind 'svm'"),
        (lambda d: d.update(metrics=["accuracy", "acuracy"]), "unknown metric 'acuracy'"),
    ],
)
def test_a_typo_in_a_table_config_is_an_error_naming_the_file_and_key(change, words):
    with pytest.raises(ConfigError) as err:
        table_from_dict("bert_resnet/table4", _bad(change), "configs/bert_resnet_table4.py")
    assert str(err.value).startswith("configs/bert_resnet_table4.py: ") and words in str(err.value)


@pytest.mark.parametrize("table", SMOKE_PARAMS)
def test_smoke_variant_runs_and_its_report_parses_back(table, tmp_path):
    results = reproduce(table, smoke=True, out=str(tmp_path), verbose=0)
    out = tmp_path / table
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["smoke"] is True and config["data_dir"].endswith("synthetic_data")
    report = (out / "report.md").read_text()
    lines = report.splitlines()
    cfg = load_table(table, smoke=True)
    assert lines[0] == f"# {cfg.title}"
    assert "embedded synthetic dataset" in lines[2] and "NOT" in lines[2] and "Encoders used" in lines[2]
    assert "## Departures from the paper" in report and any("smoke variant" in d for d in metrics["departures"])
    assert "### Every row" in report and report.count("smoke variant: tiny encoders") == 1
    assert "± 0.00" not in report  # one seed: one value, no spread
    parsed = parse_report(str(out / "report.md"))
    for row, entry in metrics["rows"].items():
        assert set(entry["seeds"]) == {"0"}
        assert f"### {row}" in report and isinstance(entry["departures"], list)
        for metric in cfg.metrics:
            paper, mean, std = parsed[(row, metric)]
            decimals = 2 if unit_of(metrics["unit"], metric) == "percent" else 3
            assert mean == pytest.approx(round(entry["mean"][metric], decimals), abs=10**-decimals)
            assert std is None
            assert paper == entry["paper"].get(metric)
    assert len(parsed) == sum(len(cfg.metrics) for _ in metrics["rows"])
    assert os.path.exists(out / "plots")
    assert results["rows"]


def test_metric_value_reads_every_metric_kind():
    m = {
        "accuracy": 0.5,
        "weighted": {"precision": 0.1, "recall": 0.2, "f1": 0.3},
        "macro": {"f1": 0.4},
        "micro_f1": 0.45,
        "per_class": {"neutral": {"precision": 0.6, "recall": 0.7, "f1": 0.8}},
    }
    assert [metric_value(m, k) for k in ("accuracy", "precision", "f1_macro", "f1_micro", "recall_neutral")] == [
        0.5,
        0.1,
        0.4,
        0.45,
        0.7,
    ]


def test_random_image_weights_are_declared_once_per_row():
    """The ledger says once that ResNet-50 ran with random weights: when the run could not fetch its
    ImageNet weights (table-wide line) the row's plan does not add a second line saying the same."""
    from types import SimpleNamespace as NS

    from experiments.runner import _plan_departures

    resnet = NS(name="resnet50", random_weights=True, frozen=True, pretrained=True)
    plan = NS(encoders={"image": resnet}, standardized_modalities=[])
    row = NS(model="cmac", training={})
    table = NS(glove_uses=(), finetune=False)
    ctx = NS(departures=[], embedded=False, glove=None, table=table, finetune=False)
    assert [d for d in _plan_departures(ctx, row, plan) if "resnet50" in d] == [
        "resnet50 randomly initialised (no pretrained weights were used; --image-weights resnet50=FILE gives them)"
    ]
    ctx.departures = ["resnet50 ran with RANDOM weights: its ImageNet weights could not be had (offline)"]
    assert not [d for d in _plan_departures(ctx, row, plan) if "resnet50" in d]


@pytest.mark.parametrize("table", [t for t in TABLES if any(r.training.get("epochs") for r in load_table(t).rows)])
def test_typed_epochs_win_over_every_rows_own(table, tmp_path):
    """`reproduce T --epochs 1` on the paper's data: every row trains one epoch, the rows that declare their
    own epochs (paper 003's 30/60-epoch rows, paper 000's CNN) included, as the report's departure says."""
    from experiments.runner import _prepare

    cfg = load_table(table)
    data = tmp_path / "data"
    data.mkdir()
    ctx = _prepare(
        cfg, str(data), None, None, None, None, "none", None, 1, False, str(tmp_path / "out"), 0, False, None
    )
    ctx.run_dirs = {0: {r.name: ctx.row_dir(r, 0) for r in cfg.rows}}  # rows built on earlier rows' models
    rows = [r for r in cfg.rows if r.kind == "keras"]
    assert rows and all(ctx.train_config(r, 0).epochs == 1 for r in rows)
    assert any("epochs set to 1 by --epochs" in d for d in ctx.departures)
