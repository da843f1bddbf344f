"""`report.md` of a reproduced table: paper vs measured, with plots; and its parser."""

from __future__ import annotations

import math
import os
import re

import numpy as np

FMT = {"percent": "{:.2f}", "fraction": "{:.3f}"}


def _fmt(value, unit):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return FMT[unit].format(value)


def _unit(unit, metric):
    return unit.get(metric, "percent") if isinstance(unit, dict) else unit


def write_report(out_dir: str, results: dict, config: dict) -> str:
    from mmsa_keras.evaluation import plot_confusion_matrix, plot_history

    unit = results["unit"]
    plots = os.path.join(out_dir, "plots")
    os.makedirs(plots, exist_ok=True)
    seeds = results["seeds"]
    lines = [f"{results['data']} {results['encoders']}", "",
             f"# {results['name'] if 'name' in results else results['table']}: {results['title']}", "",
             f"Seeds: {', '.join(map(str, seeds))} · evaluated on the {results['split']} split · "
             f"unit: {_unit_text(unit)} · wall time {results['wall_seconds']:.0f} s", "",
             "| Row | Metric | Paper | Ours (mean ± std) | Δ (ours − paper) |",
             "| --- | --- | --- | --- | --- |"]
    for row_name, entry in results["rows"].items():
        for metric in config["metrics"]:
            paper = entry["paper"].get(metric)
            mean, std = entry["mean"][metric], entry["std"][metric]
            delta = None if paper is None else mean - paper
            u = _unit(unit, metric)
            lines.append(f"| {row_name} | {metric} | {_fmt(paper, u)} | {_fmt(mean, u)} ± {_fmt(std, u)} "
                         f"| {'—' if delta is None else ('+' if delta >= 0 else '') + _fmt(delta, u)} |")
    for row_name, why in results.get("skipped", {}).items():
        lines.append(f"| {row_name} | — | — | not run: {why} | — |")
    if "wann_pairs" in results:
        lines += ["", "## WANN predictions per (CNN, RNN) prediction pair (seed 0)", "",
                  "| CNN pred. | RNN pred. | WANN → " + " | ".join(config["class_names"]) + " | WANN acc. | posts |",
                  "| --- | --- | " + " | ".join("---" for _ in config["class_names"]) + " | --- | --- |"]
        for pair, v in results["wann_pairs"][str(seeds[0])].items():
            acc = "—" if math.isnan(v["accuracy"]) else f"{100 * v['accuracy']:.0f}%"
            lines.append(f"| {pair[0]} | {pair[1]} | " + " | ".join(map(str, v["counts"])) + f" | {acc} | {v['posts']} |")
    # bar chart: paper vs ours for the first metric
    first = config["metrics"][0]
    bar_png = _bar_chart(results, first, _unit(unit, first), os.path.join(plots, f"paper_vs_ours_{first}.png"))
    if bar_png:
        lines += ["", f"## Paper vs ours ({first})", "", f"![paper vs ours](plots/{os.path.basename(bar_png)})"]
    lines += ["", f"## Confusion matrices (seed {seeds[0]}, {results['split']} split)", ""]
    for row_name, entry in results["rows"].items():
        seed0 = entry["seeds"][str(seeds[0])]
        png = os.path.join(plots, f"confusion_{_slug(row_name)}.png")
        plot_confusion_matrix(seed0["confusion_matrix"], config["class_names"][:len(seed0["confusion_matrix"])],
                              png, row_name)
        lines.append(f"![{row_name}](plots/{os.path.basename(png)})")
    curves = []
    for row_name in results["rows"]:
        hist = os.path.join(out_dir, "models", _slug(row_name), f"seed{seeds[0]}", "history.csv")
        if os.path.exists(hist):
            png = plot_history(hist, os.path.join(plots, f"curves_{_slug(row_name)}.png"))
            if png:
                curves.append(f"![{row_name}](plots/{os.path.basename(png)})")
    if curves:
        lines += ["", f"## Training curves (seed {seeds[0]})", "", *curves]
    notes = config.get("notes")
    if notes:
        lines += ["", "## Notes", "", notes]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _unit_text(unit):
    if isinstance(unit, dict):
        return ", ".join(f"{m} {'%' if u == 'percent' else 'fraction'}" for m, u in unit.items())
    return "%" if unit == "percent" else "fraction"


def _slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _bar_chart(results, metric, unit, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in results["rows"] if results["rows"][n].get("mean")]
    ours = [results["rows"][n]["mean"][metric] for n in names]
    err = [results["rows"][n]["std"][metric] for n in names]
    paper = [results["rows"][n]["paper"].get(metric, np.nan) for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(names) + 2), 3.6))
    ax.bar(x - 0.2, paper, 0.4, label="paper")
    ax.bar(x + 0.2, ours, 0.4, yerr=err, label="ours", capsize=3)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} ({'%' if unit == 'percent' else 'fraction'})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


ROW = re.compile(r"^\| (?P<row>[^|]+?) \| (?P<metric>[^|]+?) \| (?P<paper>[^|]+?) \| (?P<mean>[-0-9.]+) ± "
                 r"(?P<std>[-0-9.]+) \| (?P<delta>[^|]+?) \|$")


def parse_report(path: str) -> dict:
    """Read the results table of a report.md back: {(row, metric): (paper, mean, std)}."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ROW.match(line.strip())
            if m:
                paper = None if m["paper"] == "—" else float(m["paper"])
                out[(m["row"], m["metric"])] = (paper, float(m["mean"]), float(m["std"]))
    return out
