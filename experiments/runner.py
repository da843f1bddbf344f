"""`mmsa reproduce`: train and evaluate every row of a paper table, report paper vs measured.

A table config (`experiments/configs/<paper>_<table>.py`, loaded and checked
as an `experiments.tables.TableConfig`) gives the rows (a registry model with
overrides, a classical baseline, an evaluation of another row with one
modality removed, paper 000's WANN pair table), the paper's dataset and split,
the paper's training settings, its reported numbers and each row's known
departures from the paper. `reproduce(...)` resolves every row into a run plan
(so a bad setting fails before anything trains), runs every row for every seed
and writes `OUT/<paper>/<table>/`:

* `report.md` — the table's title; the data and encoders actually used; the
  split and its test size; one line per (row, metric) with the paper's value,
  ours (mean ± std over seeds, or one value for one seed) and the difference;
  rows that collapsed to the majority class, flagged; a "Departures from the
  paper" section per row; plots;
* `metrics.json` — every row, seed and metric, and each row's departures;
* `config.json` — what ran; `models/<row>/seed<k>/` — each run directory.

Departures ledger: each row's list is the table's and the row's declared
departures, plus what this run changed — another dataset (or the embedded
synthetic set), substituted encoders, weights that could not be had, a
replaced or shrunk split, overridden epochs, frozen encoders where the paper
fine-tuned them. Measured numbers are only ever measured.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from data_pipelines.datasets.synthetic import make_synthetic
from data_pipelines.features import extract_sequences_for
from data_pipelines.outputs import claim_output_dir
from experiments.report import write_report
from experiments.tables import Row, TableConfig, load_table, metric_value
from mmsa_keras.app.baseline_runs import fit_and_evaluate
from mmsa_keras.app.config import TrainConfig, layered
from mmsa_keras.app.evaluation import compute_metrics
from mmsa_keras.app.plan import make_plan
from mmsa_keras.app.runs import Run, load_split_data
from mmsa_keras.app.training import train
from mmsa_keras.encoders import IMAGE_ENCODERS, TEXT_ENCODERS, build_image_encoder
from mmsa_keras.errors import UsageError
from mmsa_keras.label_vectors import load_glove_label_vectors
from mmsa_keras.registry import get_spec
from mmsa_keras.uncertainty import mcnemar_exact, paired_bootstrap

# ----------------------------------------------------------------------------- metrics
#: table metric -> the interval `compute_metrics` gives for it
INTERVAL_OF = {"accuracy": "accuracy", "f1": "weighted_f1", "f1_macro": "macro_f1"}


def paired_with_text_only(table: TableConfig, results: dict, class_names) -> dict:
    """Each row against the table's text-only row (the first row whose model reads text alone), paired on
    the same posts with the first seed: difference, paired bootstrap 95% interval, exact McNemar p."""

    def text_only(row):
        try:
            return row.kind == "keras" and row.model and tuple(get_spec(row.model).modalities) == ("text",)
        except Exception:  # noqa: BLE001 - a row that is not a registered model
            return False

    seed = str(results["seeds"][0]) if results.get("seeds") else "0"
    reference = next((r.name for r in table.rows if text_only(r) and r.name in results["rows"]), None)
    if reference is None or not results["rows"][reference]["seeds"].get(seed, {}).get("predictions"):
        return {}
    ref = results["rows"][reference]["seeds"][seed]["predictions"]
    out = {"reference": reference, "seed": int(seed), "rows": {}}
    for name, entry in results["rows"].items():
        pred = entry["seeds"].get(seed, {}).get("predictions")
        if name == reference or not pred or pred["y_true"] != ref["y_true"]:
            continue  # another set of posts (e.g. a baseline that leaves out posts without its modality)
        n_classes = len(class_names or []) or 1 + max(pred["y_true"] + pred["y_pred"] + ref["y_pred"])
        paired = paired_bootstrap(pred["y_true"], pred["y_pred"], ref["y_pred"], n_classes)
        paired["mcnemar"] = mcnemar_exact(pred["y_true"], pred["y_pred"], ref["y_pred"])
        out["rows"][name] = paired
    return out


def unit_of(config_unit, metric: str) -> str:
    """A table's unit for one metric: "percent" or "fraction" (a dict gives it per metric)."""
    return config_unit.get(metric, "percent") if isinstance(config_unit, dict) else config_unit


def _scale(value: float, unit: str) -> float:
    return value * 100.0 if unit == "percent" else value


def collapse_info(confusion_matrix) -> dict:
    """Whether predictions collapsed to one class, or accuracy is within 1 point of the majority rate."""
    m = np.asarray(confusion_matrix)
    n = int(m.sum())
    predicted = m.sum(axis=0)
    majority = float(m.sum(axis=1).max() / max(n, 1))
    accuracy = float(np.trace(m) / max(n, 1))
    one_class = int((predicted > 0).sum()) <= 1
    return {
        "collapsed": bool(one_class or abs(accuracy - majority) <= 0.01),
        "one_class": bool(one_class),
        "majority_rate": majority,
        "accuracy": accuracy,
    }


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ----------------------------------------------------------------------------- context
_IMAGENET: dict[str, tuple[bool, str]] = {}


def imagenet_available(image_encoder: str) -> tuple[bool, str]:
    """Whether the ImageNet weights of a keras.applications encoder can be had (cached or downloaded)."""
    if image_encoder not in _IMAGENET:
        try:
            build_image_encoder(image_encoder, weights="imagenet", image_size=64)
            _IMAGENET[image_encoder] = (True, "")
        except Exception as e:  # no network, no cache
            first = str(e).splitlines()[0][:160] if str(e) else ""
            _IMAGENET[image_encoder] = (False, f"{type(e).__name__}: {first}")
    return _IMAGENET[image_encoder]


@dataclasses.dataclass
class Context:
    """What every row of one reproduction shares."""

    table: TableConfig
    out_dir: str
    embedded: bool
    data_dir: str
    fmt: str
    format_options: dict
    encoders: dict
    training: dict
    image_weights: dict
    variant: str | None
    vary_split: bool
    verbose: int
    finetune: bool
    departures: list[str]
    glove: str | None = None
    run_dirs: dict = dataclasses.field(default_factory=dict)  # seed -> {row name -> run dir}
    split_notes: list[str] = dataclasses.field(default_factory=list)
    test_size: int | None = None
    class_names: list[str] = dataclasses.field(default_factory=list)
    #: what the user typed (--epochs): applied after the table's and each row's own settings
    typed: dict = dataclasses.field(default_factory=dict)

    def row_dir(self, row: Row, seed: int) -> str:
        return os.path.join(self.out_dir, "models", _slug(row.name), f"seed{seed}")

    def encoder_names(self, row: Row) -> tuple[str | None, str | None]:
        """A row's own encoder (its architecture: the raw-pixel CNN) comes first; the paper's feature
        extractor for that row applies on the paper's data only."""
        text = row.text_encoder or self.encoders.get("text")
        image = row.image_encoder or (None if self.embedded else row.paper_image_encoder) or self.encoders.get("image")
        return text, image

    def glove_reads(self, row: Row) -> set[str]:
        """What a row reads from `--glove`: its label vectors (a model that takes them) and/or the word
        embeddings of its text encoder (tables that say so, for an encoder trained from scratch)."""
        text, _ = self.encoder_names(row)
        reads = {"label_vectors"} if "label_vectors" in _accepted(row.model) else set()
        from_scratch = text in TEXT_ENCODERS and not TEXT_ENCODERS[text].pretrained
        if "embeddings" in self.table.glove_uses and from_scratch and "text" in get_spec(row.model).modalities:
            reads.add("embeddings")
        return reads

    def image_weights_for(self, image: str | None) -> str | None:
        """The weights of an image encoder on the paper's data: given per encoder, or the table's."""
        if not image or self.embedded:
            return None
        return self.image_weights.get(image)

    def train_config(self, row: Row, seed: int):
        text, image = self.encoder_names(row)
        settings, sources = layered(
            [
                ("table", self.training),
                ("row", {} if self.embedded else row.training),
                ("row", row.architecture),  # part of the row's architecture: on any data
                ("typed", self.typed),  # what the user typed wins over the table and the row
            ]
        )
        settings.setdefault("text_encoder_config", dict(self.table.encoder_configs.get(text, {})))
        settings.setdefault("image_encoder_config", dict(self.table.encoder_configs.get(image, {})))
        overrides = dict(row.overrides)
        if self.table.smoke:
            overrides.update(row.smoke_overrides)
        overrides.update(row.variant_overrides.get(self.variant or "", {}))
        for key, source in row.uses.items():
            overrides[key] = os.path.join(self.run_dirs[seed][source], "model.keras")
        reads = self.glove_reads(row) if self.glove else set()
        if "label_vectors" in reads:
            vectors = load_glove_label_vectors(self.glove, self.table.class_names)
            overrides.setdefault("label_vectors", vectors.tolist())
        if "embeddings" in reads:
            settings["glove"], sources["glove"] = self.glove, "typed"
        if row.init_from:
            settings["init_from"] = os.path.join(self.run_dirs[seed][row.init_from], "model.keras")
            sources["init_from"] = "row"
        if row.holdout:
            settings["holdout_fraction"] = self.table.holdout_fraction
            settings["train_on_holdout"] = row.holdout == "holdout"
            sources.update(holdout_fraction="table", train_on_holdout="row")
        split_seed = seed if self.vary_split else 0
        return TrainConfig(
            model=row.model,
            data_dir=self.data_dir,
            format=self.fmt,
            out=self.row_dir(row, seed),
            seed=seed,
            split_seed=split_seed,
            text_encoder=text,
            image_encoder=image,
            image_weights=self.image_weights_for(image),
            model_overrides=overrides,
            format_options=copy.deepcopy(self.format_options),
            force=True,
            verbose=max(0, self.verbose - 1),
            **settings,
            sources={**sources, **{k: "row" for k in ("model", "text_encoder", "image_encoder") if k not in sources}},
        )


def _accepted(model: str | None) -> set[str]:
    if not model:
        return set()

    return get_spec(model).accepted_arguments() or set()


# ----------------------------------------------------------------------------- row kinds
def run_keras_row(ctx: Context, row: Row, seed: int) -> tuple[dict | None, dict]:
    config = ctx.train_config(row, seed)
    summary = train(config)
    ctx.run_dirs[seed][row.name] = config.out
    metrics = summary.all_metrics.get(ctx.table.split)
    plan = summary.plan
    extra = {
        "train_seconds": summary.train_seconds,
        "feature_mode": summary.feature_mode,
        "epochs_run": summary.epochs_run,
        "plan": plan.describe(),
        "encoders_used": {m: e.describe() for m, e in plan.encoders.items()},
        "plan_departures": _plan_departures(ctx, row, plan),
    }
    return metrics, extra


def _plan_departures(ctx: Context, row: Row, plan) -> list[str]:
    """What the resolved plan of a row changed against the paper (beyond the table-wide departures)."""
    out = []
    for enc in plan.encoders.values():
        said = any(d.startswith(f"{enc.name} ran with RANDOM weights") for d in ctx.departures)
        if enc.random_weights and not ctx.embedded and not said:
            out.append(
                f"{enc.name} randomly initialised (no pretrained weights were used; "
                f"--image-weights {enc.name}=FILE gives them)"
            )
    if plan.standardized_modalities:
        out.append(
            f"stored frozen {' and '.join(plan.standardized_modalities)} features standardised per channel with "
            "the training split's mean/std (kept in the saved model; mmsa train --no-standardize-features turns it off)"
        )
    accepted = _accepted(row.model)
    if "label_vectors" in accepted and not ctx.glove:
        out.append(
            "label vectors: orthonormal stand-in vectors, not the label words' GloVe vectors (--glove FILE gives them)"
        )
    if (
        "embeddings" in ctx.table.glove_uses
        and not ctx.glove
        and "text" in plan.encoders
        and not plan.encoders["text"].pretrained
    ):
        out.append("word embeddings randomly initialised, not from GloVe (--glove FILE gives them)")
    if not ctx.embedded and ctx.table.finetune and not ctx.finetune and any(e.frozen for e in plan.encoders.values()):
        out.append(
            "encoders frozen (the head trains on stored features) where the paper fine-tuned them; "
            "--finetune trains end to end"
        )
    if ctx.embedded and row.training:
        out.append(
            f"the row's own training settings ({_settings_text(row.training)}) apply to the paper's "
            "data only, not to the embedded set"
        )
    return out


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def run_without_row(ctx: Context, row: Row, seed: int) -> tuple[dict | None, dict]:
    """A trained row evaluated with one modality removed from every post (paper 004, Table 5)."""
    run = Run(ctx.run_dirs[seed][row.from_row])
    posts = [copy.copy(p) for p in run.dataset(verbose=False).labelled(ctx.table.split)]
    for p in posts:
        if row.drop == "image":
            p.image_path = None
        else:
            p.text = None
    y_true, y_prob = run.predict(posts)
    return compute_metrics(y_true, y_prob, run.class_names), {}


def run_baseline_row(ctx: Context, row: Row, seed: int) -> tuple[dict | None, dict]:
    dataset = load_split_data(
        ctx.data_dir, ctx.fmt, seed if ctx.vary_split else 0, format_options=_drawn(ctx, seed), verbose=False
    )
    params = {**row.params, **(row.smoke_params if ctx.table.smoke else {})}
    metrics = fit_and_evaluate(row.kind, dataset, ctx.table.split, seed, params, ctx.row_dir(row, seed))
    if metrics is None:
        return None, {"why": f"no posts with {'an image' if row.kind == 'random_forest' else 'text'}"}
    return metrics, {"best_params": metrics["best_params"]}


def _drawn(ctx: Context, seed: int) -> dict:
    options = copy.deepcopy(ctx.format_options)
    if options.get("split") in ("random", "paper002") and "seed" not in options:
        options["seed"] = seed if ctx.vary_split else 0
    return options


def run_wann_pairs_row(ctx: Context, row: Row, seed: int) -> tuple[dict | None, dict]:
    """Paper 000 Table 4: WANN predictions per class and accuracy for each (CNN, RNN) prediction pair."""
    runs = [Run(ctx.run_dirs[seed][name]) for name in row.rows]
    posts = runs[-1].dataset(verbose=False).labelled(ctx.table.split)
    preds = [run.predict(posts)[1].argmax(-1) for run in runs]
    labels = np.array([p.label for p in posts])
    n = len(runs[-1].class_names)
    table = {}
    for a in range(n):
        for b in range(n):
            sel = (preds[0] == a) & (preds[1] == b)
            counts = np.bincount(preds[2][sel], minlength=n).tolist()
            acc = float((preds[2][sel] == labels[sel]).mean()) if sel.any() else float("nan")
            table[f"{a}{b}"] = {"counts": counts, "accuracy": acc, "posts": int(sel.sum())}
    return None, {"wann_pairs": table}


#: row kind → the function that runs it
ROW_RUNNERS: dict[str, Callable[[Context, Row, int], tuple[dict | None, dict]]] = {
    "keras": run_keras_row,
    "without": run_without_row,
    "random_forest": run_baseline_row,
    "tfidf_svm": run_baseline_row,
    "wann_pairs": run_wann_pairs_row,
}


# ----------------------------------------------------------------------------- setup
def _select_rows(table: TableConfig, names: list[str] | None) -> list[Row]:
    if not names:
        return list(table.rows)
    unknown = [n for n in names if n not in {r.name for r in table.rows}]
    if unknown:
        raise UsageError(
            f"--rows: no row {unknown[0]!r} in {table.name} (rows: {', '.join(r.name for r in table.rows)})"
        )
    wanted = set(names)
    for row in reversed(table.rows):  # rows a wanted row uses run too
        if row.name in wanted:
            wanted.update(row.uses.values())
            wanted.update(filter(None, [row.from_row, row.init_from]))
            wanted.update(row.rows)
    return [r for r in table.rows if r.name in wanted]


def _prepare(
    table: TableConfig,
    data_dir,
    format,
    protocol,
    text_encoder,
    image_encoder,
    image_weights,
    variant,
    epochs,
    finetune,
    out,
    verbose,
    vary_split,
    glove,
    options=None,
    dry_run: bool = False,
) -> Context:
    out_dir = os.path.join(out, table.name)
    if not dry_run:
        claim_output_dir(out_dir, "results")  # new, empty or an earlier report of this table
    ds = table.dataset
    embedded = data_dir is None
    _check_typed_settings(table, embedded, format, protocol, image_weights, variant, options)
    variant = variant or ds.default_variant
    departures: list[str] = list(table.departures)
    paper_dataset = ds.name + (f" ({variant})" if variant else "")
    if embedded:
        data_dir = os.path.join(out_dir, "synthetic_data")
        fmt, format_options = "mvsa", {}
        encoders = dict(table.embedded_encoders)
        departures.append(
            f"ran on the embedded synthetic dataset ({table.synthetic['posts']} posts), not on {paper_dataset}"
        )
    else:
        fmt = format or ds.format
        format_options = {**ds.options, **ds.variant_options.get(variant or "", {}), **(options or {})}
        encoders = dict(table.encoders)
    if protocol:
        format_options["protocol"] = protocol
    if ds.keep_classes:
        format_options["keep_classes"] = list(ds.keep_classes)
    paper_text, paper_image = table.encoders.get("text"), table.encoders.get("image")
    if text_encoder:
        encoders["text"] = text_encoder
        if text_encoder != paper_text and not embedded:
            departures.append(f"text encoder {text_encoder} instead of the paper's ({table.paper_encoders})")
    if image_encoder:
        encoders["image"] = image_encoder
        if image_encoder != paper_image and not embedded:
            departures.append(f"image encoder {image_encoder} instead of the paper's ({table.paper_encoders})")
    training = dict(table.embedded_training if embedded else table.training)
    if finetune:
        if table.finetune is None:
            raise UsageError(f"--finetune: {table.name}: {table.finetune_note}")
        if embedded:
            departures.append(
                "--finetune has no effect on the embedded run: its small encoders train from scratch anyway"
            )
        else:
            training.update(table.finetune)
    typed = {}
    if epochs is not None:
        training["epochs"] = typed["epochs"] = epochs
        departures.append(
            f"epochs set to {epochs} by --epochs (the paper's: {table.training.get('epochs', 'per row')})"
        )
    weights = _image_weights(table, encoders, image_weights, embedded, departures)
    if table.smoke:
        departures.append("smoke variant: tiny encoders, one epoch (a check that the table runs, not a result)")
    if embedded and not dry_run:
        make_synthetic(data_dir, **table.synthetic)
    return Context(
        table=table,
        out_dir=out_dir,
        embedded=embedded,
        data_dir=data_dir,
        fmt=fmt,
        format_options=format_options,
        encoders=encoders,
        training=training,
        typed=typed,
        image_weights=weights,
        variant=variant,
        vary_split=vary_split,
        verbose=verbose,
        finetune=finetune,
        departures=departures,
        glove=glove,
    )


def _check_typed_settings(table: TableConfig, embedded: bool, format, protocol, image_weights, variant, options):
    """A typed setting no row of this reproduction would read is a usage error naming it (never a silent loss)."""
    if embedded:
        about_data = {"--format": format, "--protocol": protocol, "--image-weights": image_weights, "--option": options}
        given = [flag for flag, value in about_data.items() if value]
        if given:
            raise UsageError(
                f"{', '.join(given)} describe{'s' if len(given) == 1 else ''} the paper's data: give --data-dir "
                f"(without it {table.name} runs on the embedded synthetic set, which has its own settings)"
            )
    variants = set(table.dataset.variant_options) | {v for r in table.rows for v in r.variant_overrides}
    variants |= {table.dataset.default_variant} - {None}
    if variant and variant not in variants:
        known = f"its variants: {', '.join(sorted(variants))}" if variants else "it has no variants"
        raise UsageError(f"--variant {variant}: not a variant of {table.name} ({known})")


def planned(ctx: Context, rows: list[Row], seeds: int) -> dict:
    """What `reproduce` would run, resolved and checked but not run: per row and seed, the resolved plan of a
    Keras row (`RunPlan.to_dict()`, sources included) or the kind of a baseline row; the data and encoder lines
    and the departures the report would carry (`mmsa reproduce T --dry-run` prints it)."""
    out: dict[str, Any] = {
        "table": ctx.table.name,
        "data": _data_line(ctx),
        "encoders": _encoder_line(ctx),
        "departures": list(ctx.departures),
        "seeds": list(range(seeds)),
        "rows": {},
    }
    for seed in range(seeds):
        ctx.run_dirs[seed] = {r.name: ctx.row_dir(r, seed) for r in ctx.table.rows}
        for row in rows:
            entry = out["rows"].setdefault(row.name, {"kind": row.kind, "plans": []})
            if row.kind != "keras":
                continue
            try:
                plan = make_plan(ctx.train_config(row, seed), check_paths=not ctx.embedded)
            except UsageError as e:
                raise UsageError(f"{ctx.table.name}, row {row.name!r}: {e}") from None
            entry["plans"].append(plan.to_dict())
    ctx.run_dirs = {}
    return out


def _image_weights(table: TableConfig, encoders: dict, given: str | None, embedded: bool, departures: list) -> dict:
    """{image encoder: weights} for the paper's data: `--image-weights X` (the table's image encoder) or
    `--image-weights enc=X,enc2=Y`; else the table's own (ImageNet for keras.applications encoders). ImageNet
    weights that cannot be had become a random initialisation, said in the departures."""
    if embedded:
        return {}
    wanted = {r.paper_image_encoder for r in table.rows if r.paper_image_encoder} | {encoders.get("image")}
    wanted = {w for w in wanted if w in IMAGE_ENCODERS and IMAGE_ENCODERS[w].pretrained}
    out = {w: (table.encoders.get("image_weights") if w == table.encoders.get("image") else None) for w in wanted}
    if given:
        for part in given.split(","):
            enc, sep, value = part.partition("=")
            if sep:
                if enc not in IMAGE_ENCODERS:
                    raise UsageError(f"--image-weights {part}: unknown image encoder {enc!r}")
                out[enc] = value
            else:
                out[encoders.get("image")] = part
    for enc, value in list(out.items()):
        if value == "imagenet":
            if not IMAGE_ENCODERS[enc].imagenet:
                raise UsageError(f"--image-weights: {enc} has no ImageNet weights; give a weights file or none")
            ok, why = imagenet_available(enc)
            if not ok:
                departures.append(
                    f"{enc} ran with RANDOM weights: its ImageNet weights could not be had ({why}); "
                    "--image-weights FILE gives them"
                )
                out[enc] = "none"
        elif value in (None, "none"):
            out[enc] = "none"
    return out


def _check_plans(ctx: Context, rows: list[Row], seeds: int) -> set[tuple[str, str]]:
    """Resolve every keras row's plan before anything trains: a bad setting fails at once.

    Returns the `(modality, encoder)` pairs whose stored sequences some row needs
    (token states, spatial maps), for `extract_sequences_for`: the first row to
    extract with such an encoder stores them too, so each encoder runs once.
    """
    ctx.run_dirs = {s: {} for s in range(seeds)}
    sequences = set()
    for row in rows:
        if row.kind != "keras":
            continue
        for source in [*row.uses.values(), *filter(None, [row.init_from])]:
            ctx.run_dirs[0][source] = ctx.row_dir(ctx.table.row(source), 0)
        try:
            plan = make_plan(ctx.train_config(row, 0).replace(init_from=None))  # its model: an earlier row's
        except UsageError as e:
            raise UsageError(f"{ctx.table.name}, row {row.name!r}: {e}") from None
        if plan.uses_sequences:
            sequences.update((m, plan.encoders[m].name) for m in plan.stored_modalities)
    ctx.run_dirs = {s: {} for s in range(seeds)}
    return sequences


# ----------------------------------------------------------------------------- reproduce
def reproduce(
    name: str,
    data_dir: str | None = None,
    format: str | None = None,
    protocol: str | None = None,
    seeds: int = 1,
    smoke: bool = False,
    out: str = "results",
    text_encoder: str | None = None,
    image_encoder: str | None = None,
    image_weights: str | None = None,
    glove: str | None = None,
    variant: str | None = None,
    epochs: int | None = None,
    finetune: bool = False,
    vary_split: bool = False,
    rows: list[str] | None = None,
    options: dict | None = None,
    verbose: int = 1,
    dry_run: bool = False,
) -> dict:
    """Run every row of table `name` for `seeds` seeds; write the report. Returns the results.

    With `dry_run`, no post is read, nothing trained and no results folder written: the result is what would
    run (`planned`). On the paper's data the ImageNet check may still fetch weights into Keras' cache."""
    table = load_table(name, smoke=smoke)
    selected = _select_rows(table, rows)
    ctx = _prepare(
        table,
        data_dir,
        format,
        protocol,
        text_encoder,
        image_encoder,
        image_weights,
        variant,
        epochs,
        finetune,
        out,
        verbose,
        vary_split,
        glove,
        options,
        dry_run,
    )
    if glove and not any(ctx.glove_reads(row) for row in selected if row.kind == "keras"):
        raise UsageError(f"--glove: no row of {name} that runs here reads word or label vectors")
    if dry_run:
        return planned(ctx, selected, seeds)
    sequences_needed = _check_plans(ctx, selected, seeds)
    os.makedirs(ctx.out_dir, exist_ok=True)
    split_info = _split_info(ctx)
    start = time.time()
    results: dict[str, Any] = {
        "table": name,
        "title": table.title,
        "unit": table.unit,
        "split": table.split,
        "data": _data_line(ctx),
        "encoders": _encoder_line(ctx),
        "rows": {},
        "departures": ctx.departures,
        "split_info": split_info,
        "variant": ctx.variant,
        "class_names": ctx.class_names,
    }

    for seed, row in ((s, r) for s in range(seeds) for r in selected):
        if verbose:
            print(f"[{name}] seed {seed}: {row.name}", flush=True)
        with extract_sequences_for(sequences_needed):
            metrics, extra = ROW_RUNNERS[row.kind](ctx, row, seed)
        if "wann_pairs" in extra:
            results.setdefault("wann_pairs", {})[str(seed)] = extra.pop("wann_pairs")
            continue
        entry = results["rows"].setdefault(
            row.name, {"model": row.model or row.kind, "seeds": {}, "departures": _row_departures(ctx, row)}
        )
        for d in extra.pop("plan_departures", []):
            if d not in entry["departures"]:
                entry["departures"].append(d)
        if metrics is None:  # a row that cannot run on this dataset (e.g. pixels without images)
            results.setdefault("skipped", {})[row.name] = extra.get("why", "")
            continue
        entry["seeds"][str(seed)] = _seed_entry(table, metrics, extra)
    results["departures"] = list(dict.fromkeys(ctx.departures + ctx.split_notes))  # once, for every row
    _summarise_rows(table, results, ctx.variant)
    results["paired"] = paired_with_text_only(table, results, ctx.class_names)
    results["wall_seconds"] = time.time() - start
    results["seeds"] = list(range(seeds))
    with open(os.path.join(ctx.out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    _write_config_used(ctx, table, selected, seeds, smoke, vary_split)

    write_report(ctx.out_dir, results, table)
    return results


def _seed_entry(table, metrics: dict, extra: dict) -> dict:
    """One row's figures for one seed: the table's metrics (in its unit), the three summary metrics, the
    confusion matrix, the intervals and the predictions."""
    return {
        "metrics": {m: _scale(metric_value(metrics, m), unit_of(table.unit, m)) for m in table.metrics},
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro"]["f1"],
        "weighted_f1": metrics["weighted"]["f1"],
        "num_examples": metrics["num_examples"],
        "confusion_matrix": metrics["confusion_matrix"],
        "intervals": {
            m: [_scale(x, unit_of(table.unit, m)) for x in metrics["intervals"][INTERVAL_OF[m]]]
            for m in table.metrics
            if m in INTERVAL_OF and "intervals" in metrics
        },
        "predictions": metrics.get("predictions"),
        **extra,
    }


def _summarise_rows(table, results: dict, variant) -> None:
    """Each row's mean and std over seeds, whether it collapsed to the majority class, and the paper's
    figures for the variant run."""
    for row_name, entry in results["rows"].items():
        if not entry["seeds"]:
            continue
        values = {m: [s["metrics"][m] for s in entry["seeds"].values()] for m in table.metrics}
        entry["mean"] = {m: float(np.mean(v)) for m, v in values.items()}
        entry["std"] = {m: float(np.std(v)) for m, v in values.items()}
        collapses = [collapse_info(s["confusion_matrix"]) for s in entry["seeds"].values()]
        entry["collapsed"] = any(c["collapsed"] for c in collapses)
        entry["majority_rate"] = float(np.mean([c["majority_rate"] for c in collapses]))
        entry["macro_f1_mean"] = float(np.mean([s["macro_f1"] for s in entry["seeds"].values()]))
        paper = table.row(row_name).paper
        entry["paper"] = paper.get(variant, paper) if variant and isinstance(paper.get(variant), dict) else paper


def _write_config_used(ctx, table, selected, seeds: int, smoke: bool, vary_split: bool) -> None:
    """`config.json`: the table as run, with the data, encoders, training settings and rows used."""
    used = {
        **dataclasses.asdict(table),
        "data_dir": ctx.data_dir,
        "format": ctx.fmt,
        "format_options": ctx.format_options,
        "encoders_used": ctx.encoders,
        "training_used": ctx.training,
        "image_weights_used": ctx.image_weights,
        "seeds": seeds,
        "variant": ctx.variant,
        "smoke": smoke,
        "vary_split": vary_split,
        "rows_run": [r.name for r in selected],
    }
    with open(os.path.join(ctx.out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(used, f, indent=2, default=str)


def _row_departures(ctx: Context, row: Row) -> list[str]:
    """The row's own departures (what applies to every row is listed once: `results["departures"]`)."""
    return list(dict.fromkeys(row.departures))


def _split_info(ctx: Context) -> dict:
    """Read the data once (its report printed once) and say which split the table evaluates."""
    dataset = load_split_data(ctx.data_dir, ctx.fmt, 0, format_options=_drawn(ctx, 0), verbose=bool(ctx.verbose))
    split = ctx.table.split
    posts = dataset.labelled(split) if split in dataset.splits else []
    ctx.test_size = len(posts)
    counts = dataset.class_counts(split) if split in dataset.splits else {}
    majority = max(counts.values()) / max(sum(counts.values()), 1) if counts else 0.0
    paper_split = ctx.table.dataset.split_description
    notes = list(dataset.notes)
    if not ctx.embedded and paper_split:
        notes.append(f"the paper's split: {paper_split}")
    ctx.split_notes = [n for n in dataset.notes if "instead" in n or "kept" in n or "fewer" in n]
    ctx.class_names = list(dataset.class_names)
    if ctx.table.expected_labels == "text" and any("labels from the ANP" in n for n in dataset.notes):
        ctx.split_notes.append(
            "ANP-score labels stand in for the paper's labels, which a sentiment service derived from the text "
            "(section 4.1.1): --option label_file=FILE gives externally scored labels"
        )
    if ctx.vary_split:
        ctx.split_notes.append("--vary-split: seed k draws split k (the paper reports one split)")
    return {"split": split, "size": len(posts), "class_counts": counts, "majority_rate": majority, "notes": notes}


def _data_line(ctx: Context) -> str:
    ds = ctx.table.dataset
    paper_dataset = ds.name + (f" ({ctx.variant})" if ctx.variant else "")
    if ctx.embedded:
        return (
            f"Ran on the embedded synthetic dataset ({ctx.table.synthetic['posts']} posts), NOT on "
            f"{paper_dataset}: the measured numbers are not a reproduction of the paper's."
        )
    options = {k: v for k, v in ctx.format_options.items()}
    return (
        f"Ran on {ctx.data_dir} (format {ctx.fmt}{', ' + str(options) if options else ''}); the paper used "
        f"{paper_dataset}."
    )


def _encoder_line(ctx: Context) -> str:
    text, image = ctx.encoders.get("text"), ctx.encoders.get("image")
    image_desc = image or "-"
    weights = ctx.image_weights.get(image) if image else None
    if image and not ctx.embedded and weights:
        image_desc += f" ({'random' if weights == 'none' else weights} weights)"
    tuned = ctx.finetune and not ctx.embedded
    return (
        f"Encoders used: text {text or '-'}, image {image_desc}{' (fine-tuned)' if tuned else ''}; "
        f"the paper's: {ctx.table.paper_encoders}."
    )
