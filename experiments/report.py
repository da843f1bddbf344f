"""`report.md` of a reproduced table: paper vs measured, departures, plots; and its parser."""

from __future__ import annotations

import math
import os
import re
import textwrap

import numpy as np

from mmsa_keras.app.evaluation import plot_confusion_matrix, plot_history
from mmsa_keras.figures import subplots

FMT = {"percent": "{:.2f}", "fraction": "{:.3f}"}


def _fmt(value, unit):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return FMT[unit].format(value)


def _unit(unit, metric):
    return unit.get(metric, "percent") if isinstance(unit, dict) else unit


def write_report(out_dir: str, results: dict, table) -> str:
    unit = results["unit"]
    plots = os.path.join(out_dir, "plots")
    os.makedirs(plots, exist_ok=True)
    seeds = results["seeds"]
    one_seed = len(seeds) == 1
    info = results["split_info"]
    data_name = (
        "the embedded synthetic set"
        if "embedded synthetic" in results["data"]
        else os.path.basename(os.path.normpath(table.dataset.name))
    )
    lines = [
        f"# {results['title']}",
        "",
        f"{results['data']} {results['encoders']}",
        "",
        f"Evaluated on the **{info['split']}** split: {info['size']} posts "
        f"(majority class {100 * info['majority_rate']:.1f}%). "
        + " ".join(n[0].upper() + n[1:] + "." for n in info["notes"]),
        "",
        f"Seeds: {', '.join(map(str, seeds))} · unit: {_unit_text(unit)} · wall time {results['wall_seconds']:.0f} s",
        "",
    ]
    lines += _results_table_lines(results, table, unit, one_seed)
    lines += _uncertainty_lines(results, table, unit, info)
    lines += _collapsed_lines(results)
    lines += _wann_pair_lines(results, table, seeds) if "wann_pairs" in results else []
    lines += _departure_lines(results)
    lines += _figure_lines(out_dir, plots, results, table, unit, data_name, info, seeds)
    if table.notes:
        lines += ["", "## Notes", "", table.notes]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _results_table_lines(results: dict, table, unit, one_seed: bool) -> list[str]:
    """The paper-vs-ours table: one line per row and metric, and the rows not run."""
    lines = []
    ours = "Ours" if one_seed else "Ours (mean ± std)"
    lines += [f"| Row | Metric | Paper | {ours} | Δ (ours − paper) |", "| --- | --- | --- | --- | --- |"]
    for row_name, entry in results["rows"].items():
        if not entry.get("mean"):
            continue
        for metric in table.metrics:
            paper = entry["paper"].get(metric)
            mean, std = entry["mean"][metric], entry["std"][metric]
            delta = None if paper is None else mean - paper
            u = _unit(unit, metric)
            value = _fmt(mean, u) if one_seed else f"{_fmt(mean, u)} ± {_fmt(std, u)}"
            flag = " ⚠" if entry.get("collapsed") and metric == table.metrics[0] else ""
            lines.append(
                f"| {row_name}{flag} | {metric} | {_fmt(paper, u)} | {value} "
                f"| {'—' if delta is None else ('+' if delta >= 0 else '') + _fmt(delta, u)} |"
            )
    for row_name, why in results.get("skipped", {}).items():
        lines.append(f"| {row_name} | — | — | not run: {why} | — |")
    return lines


def _collapsed_lines(results: dict) -> list[str]:
    """The rows that collapsed to the majority class, and every row's macro F1."""
    lines = []
    collapsed = [(n, e) for n, e in results["rows"].items() if e.get("collapsed")]
    if collapsed:
        lines += [
            "",
            "**⚠ Collapsed to the majority class** (all predictions one class, or accuracy within 1 "
            "point of the test set's majority rate):",
        ]
        for row_name, entry in collapsed:
            lines.append(
                f"- {row_name}: majority rate {100 * entry['majority_rate']:.1f}%, macro F1 "
                f"{entry['macro_f1_mean']:.3f}"
            )
    lines += [
        "",
        "Macro F1 of every row (mean over seeds): "
        + ", ".join(f"{n} {e['macro_f1_mean']:.3f}" for n, e in results["rows"].items() if e.get("mean")),
    ]
    return lines


def _wann_pair_lines(results: dict, table, seeds) -> list[str]:
    """Paper 000's WANN predictions per (CNN, RNN) prediction pair, beside the paper's."""
    lines = []
    names = results.get("class_names") or table.class_names
    paper_pairs = next((r.paper.get("pairs") for r in table.rows if r.kind == "wann_pairs"), None) or {}
    lines += [
        "",
        f"## WANN predictions per (CNN, RNN) prediction pair (seed {seeds[0]})",
        "",
        "| CNN pred. | RNN pred. | WANN → "
        + " | ".join(names)
        + " | WANN acc. | posts | paper: WANN → "
        + " / ".join(names)
        + " | paper acc. |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " | --- | --- | --- | --- |",
    ]
    for pair, v in results["wann_pairs"][str(seeds[0])].items():
        acc = "—" if math.isnan(v["accuracy"]) else f"{100 * v['accuracy']:.0f}%"
        p = paper_pairs.get(pair)
        paper_cells = f"{' / '.join(map(str, p['counts']))} | {p['accuracy']}%" if p else "— | —"
        lines.append(
            f"| {pair[0]} | {pair[1]} | {' | '.join(map(str, v['counts']))} | {acc} | {v['posts']} | {paper_cells} |"
        )
    return lines


def _departure_lines(results: dict) -> list[str]:
    """The departures from the paper: those of every row once, then each row's own."""
    lines = []
    lines += ["", "## Departures from the paper", "", "### Every row", ""]
    lines += [f"- {d}" for d in results.get("departures", [])] or ["- none known"]
    lines.append("")
    for row_name, entry in results["rows"].items():
        lines.append(f"### {row_name}")
        lines += [f"- {d}" for d in entry.get("departures", [])] or ["- none beyond those of every row"]
        lines.append("")
    return lines


def _figure_lines(out_dir: str, plots: str, results: dict, table, unit, data_name: str, info: dict, seeds) -> list[str]:
    """The paper-vs-ours bar chart, the confusion matrices and the training curves (written to `plots`)."""
    lines = []
    first = table.metrics[0]
    bar_png = _bar_chart(
        results,
        first,
        _unit(unit, first),
        os.path.join(plots, f"paper_vs_ours_{first}.png"),
        f"{results['title']}: {first}, paper vs ours ({data_name}, {info['split']} split)",
    )
    if bar_png:
        lines += [f"## Paper vs ours ({first})", "", f"![paper vs ours](plots/{os.path.basename(bar_png)})", ""]
    lines += [f"## Confusion matrices (seed {seeds[0]}, {info['split']} split)", ""]
    for row_name, entry in results["rows"].items():
        seed0 = entry["seeds"].get(str(seeds[0]))
        if not seed0:
            continue
        png = os.path.join(plots, f"confusion_{_slug(row_name)}.png")
        plot_confusion_matrix(
            seed0["confusion_matrix"],
            results.get("class_names") or table.class_names[: len(seed0["confusion_matrix"])],
            png,
            f"{row_name} ({entry['model']}) on {data_name}, {info['split']} split, seed {seeds[0]}",
        )
        lines.append(f"![{row_name}](plots/{os.path.basename(png)})")
    curves = []
    for row_name, entry in results["rows"].items():
        hist = os.path.join(out_dir, "models", _slug(row_name), f"seed{seeds[0]}", "history.csv")
        if os.path.exists(hist):
            png = plot_history(
                hist,
                os.path.join(plots, f"curves_{_slug(row_name)}.png"),
                f"{row_name} ({entry['model']}) on {data_name}, seed {seeds[0]}: training curves",
            )
            if png:
                curves.append(f"![{row_name}](plots/{os.path.basename(png)})")
    if curves:
        lines += ["", f"## Training curves (seed {seeds[0]})", "", *curves]
    return lines


def _uncertainty_lines(results, table, unit, info) -> list[str]:
    """Each row's 95% intervals (first seed), whether the paper's number lies inside, and each row against
    the text-only row on the same posts (paired bootstrap interval, exact McNemar p)."""
    seed = str(results["seeds"][0])
    rows = []
    for row_name, entry in results["rows"].items():
        s = entry["seeds"].get(seed) or {}
        for metric, (lo, hi) in (s.get("intervals") or {}).items():
            u = _unit(unit, metric)
            paper = entry.get("paper", {}).get(metric)
            inside = "—" if paper is None else ("yes" if lo <= paper <= hi else "**no**")
            rows.append(
                f"| {row_name} | {metric} | {_fmt(s['metrics'][metric], u)} | [{_fmt(lo, u)}, {_fmt(hi, u)}] "
                f"| {_fmt(paper, u)} | {inside} |"
            )
    if not rows:
        return []
    out = [
        "",
        f"## Uncertainty (seed {seed}, {info['size']} posts)",
        "",
        "95% percentile-bootstrap intervals over the evaluated posts; a paper number inside the interval is not "
        "distinguishable from ours on these posts.",
        "",
        "| Row | Metric | Ours | 95% interval | Paper | paper inside? |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    paired = results.get("paired") or {}
    if paired.get("rows"):
        ref = paired["reference"]
        out += [
            "",
            f"Each row against the text-only row **{ref}** on the same posts (A = the row, B = {ref}; "
            "percentage points, paired bootstrap 95% intervals, exact McNemar test):",
            "",
            "| Row | Δ accuracy | 95% interval | Δ macro F1 | 95% interval | McNemar p |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row_name, r in paired["rows"].items():
            cells = []
            for m in ("accuracy", "macro_f1"):
                lo, hi = r[m]["interval"]
                mark = "" if r[m]["excludes_zero"] else " (noise)"
                cells.append(f"{100 * r[m]['difference']:+.2f}{mark} | [{100 * lo:+.2f}, {100 * hi:+.2f}]")
            out.append(f"| {row_name} | {' | '.join(cells)} | {r['mcnemar']['p_value']:.3g} |")
    return out


def _unit_text(unit):
    if isinstance(unit, dict):
        return ", ".join(f"{m} {'%' if u == 'percent' else 'fraction'}" for m, u in unit.items())
    return "%" if unit == "percent" else "fraction"


def _slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _bar_chart(results, metric, unit, path, title):

    names = [n for n in results["rows"] if results["rows"][n].get("mean")]
    if not names:
        return None
    ours = [results["rows"][n]["mean"][metric] for n in names]
    err = [results["rows"][n]["std"][metric] for n in names] if len(results["seeds"]) > 1 else None
    paper = [results["rows"][n]["paper"].get(metric, np.nan) for n in names]
    x = np.arange(len(names))
    fig, ax = subplots(figsize=(max(6, 1.1 * len(names) + 2), 4.2))
    ax.bar(x - 0.2, [np.nan if p is None else p for p in paper], 0.4, label="paper")
    ax.bar(x + 0.2, ours, 0.4, yerr=err, label="ours", capsize=3)
    ax.set_xticks(x, [textwrap.shorten(n, 28) for n in names], rotation=30, ha="right")
    ax.set_ylabel(f"{metric} ({'%' if unit == 'percent' else 'fraction'})")
    ax.set_title("\n".join(textwrap.wrap(title, width=int(12 * max(6, 1.1 * len(names) + 2)))), fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
