import json
import os

import pytest

from experiments.report import parse_report
from experiments.runner import TABLES, list_tables, load_config, metric_value, reproduce, unit_of


def test_every_table_is_listed_with_a_config():
    names = [n for n, _ in list_tables()]
    assert names == list(TABLES)
    for name in names:
        cfg = load_config(name)
        assert cfg["rows"] and cfg["metrics"] and cfg["title"]
        assert any(r.get("paper") for r in cfg["rows"]), name  # the paper's numbers are in every config
        smoke = load_config(name, smoke=True)
        assert smoke["synthetic"]["posts"] < cfg["synthetic"]["posts"]


@pytest.mark.parametrize("table", list(TABLES))
def test_smoke_variant_runs_and_its_report_parses_back(table, tmp_path):
    results = reproduce(table, smoke=True, out=str(tmp_path), verbose=0)
    out = tmp_path / table
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["smoke"] is True and config["data_dir"].endswith("synthetic_data")
    report = (out / "report.md").read_text()
    first_line = report.splitlines()[0]
    assert "embedded synthetic dataset" in first_line and "NOT" in first_line and "Encoders used" in first_line
    parsed = parse_report(str(out / "report.md"))
    cfg = load_config(table, smoke=True)
    for row, entry in metrics["rows"].items():
        assert set(entry["seeds"]) == {"0"}
        for metric in cfg["metrics"]:
            paper, mean, std = parsed[(row, metric)]
            decimals = 2 if unit_of(metrics["unit"], metric) == "percent" else 3
            assert mean == pytest.approx(round(entry["mean"][metric], decimals), abs=10 ** -decimals)
            assert std == pytest.approx(round(entry["std"][metric], decimals), abs=10 ** -decimals)
            assert paper == entry["paper"].get(metric)
    assert len(parsed) == sum(len(cfg["metrics"]) for _ in metrics["rows"])
    assert os.path.exists(out / "plots")
    assert results["rows"]


def test_metric_value_reads_every_metric_kind():
    m = {"accuracy": 0.5, "weighted": {"precision": 0.1, "recall": 0.2, "f1": 0.3}, "macro": {"f1": 0.4},
         "micro_f1": 0.45, "per_class": {"neutral": {"precision": 0.6, "recall": 0.7, "f1": 0.8}}}
    assert [metric_value(m, k) for k in ("accuracy", "precision", "f1_macro", "f1_micro", "recall_neutral")] == \
        [0.5, 0.1, 0.4, 0.45, 0.7]
