"""`mmsa reproduce`: train and evaluate every row of a paper table, report paper vs measured.

A table config (`experiments/configs/<paper>_<table>.py`, `get_config(smoke)`)
gives the rows (registry model + overrides, or a classical baseline, or an
evaluation of another row with one modality removed), the paper's dataset and
split, the paper's training settings and reported numbers. `reproduce(...)`
runs every row for every seed and writes `OUT/<paper>/<table>/`:

* `report.md` — first line: the dataset and encoders actually used (and, when
  they are not the paper's, that the numbers are not a reproduction); then one
  table row per (row, metric) with the paper's value, ours (mean ± std over
  seeds) and the difference; then plots;
* `metrics.json` — every row, seed and metric; `config.json` — what ran;
* `models/<row>/seed<k>/` — each run directory (model, history, metrics);
* `plots/` — paper-vs-ours bars, confusion matrices and training curves.

Measured numbers are only ever measured.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import time

import numpy as np

TABLES = {
    "instagram_wann/table3": "instagram_wann_table3",
    "instagram_wann/table4": "instagram_wann_table4",
    "instagram_wann/baselines": "instagram_wann_baselines",
    "instagram_wann/unimodal": "instagram_wann_unimodal",
    "mvsa_mha/results": "mvsa_mha_results",
    "bert_resnet/table4": "bert_resnet_table4",
    **{f"mvso_gated/table{i}": f"mvso_gated_table{i}" for i in range(1, 10)},
    "mvso_gated/test": "mvso_gated_test",
    "joint_fusion/table4": "joint_fusion_table4",
    "joint_fusion/table5": "joint_fusion_table5",
}


def list_tables() -> list[tuple[str, str]]:
    return [(name, load_config(name)["title"]) for name in TABLES]


def load_config(name: str, smoke: bool = False) -> dict:
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; `mmsa reproduce --list` shows them")
    module = importlib.import_module(f"experiments.configs.{TABLES[name]}")
    config = module.get_config(smoke=smoke)
    config["name"] = name
    return config


# ----------------------------------------------------------------------------- metrics
def metric_value(metrics: dict, key: str) -> float:
    """A metric from an evaluation dict: accuracy, precision/recall/f1 (weighted),
    f1_macro, f1_micro, or <precision|recall|f1>_<class name>."""
    if key == "accuracy":
        return metrics["accuracy"]
    if key in ("precision", "recall", "f1"):
        return metrics["weighted"][key]
    if key == "f1_macro":
        return metrics["macro"]["f1"]
    if key == "f1_micro":
        return metrics["micro_f1"]
    kind, _, cls = key.partition("_")
    return metrics["per_class"][cls][kind]


def unit_of(config_unit, metric: str) -> str:
    """A table's unit for one metric: "percent" or "fraction" (a dict gives it per metric)."""
    return config_unit.get(metric, "percent") if isinstance(config_unit, dict) else config_unit


def _scale(value: float, unit: str) -> float:
    return value * 100.0 if unit == "percent" else value


# ----------------------------------------------------------------------------- evaluation helpers
def evaluate_without(run_dir: str, split: str, drop: str, verbose: int = 0) -> dict:
    """Evaluate a trained run on its split with one modality removed from every post."""
    import keras

    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.report import DataReport
    from mmsa_keras import runs
    from mmsa_keras.evaluation import compute_metrics, predict_dataset

    cfg = runs.read_json(os.path.join(run_dir, "run_config.json"))
    dataset = runs.load_split_data(cfg["data_dir"], cfg["format"], cfg["seed"], DataReport(max_messages=0),
                                   splits_file=os.path.join(run_dir, "splits.json"),
                                   format_options=cfg.get("format_options"), verbose=False)
    posts = [copy.copy(p) for p in dataset.labelled(split)]
    for p in posts:
        if drop == "image":
            p.image_path = None
        else:
            p.text = None
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    ds = Preprocessor.load(run_dir).make_dataset(posts, 64, input_names=list(model.input))
    y_true, y_prob = predict_dataset(model, ds, verbose=verbose)
    return compute_metrics(y_true, y_prob, dataset.class_names)


def run_baseline(kind: str, data_dir: str, fmt: str, format_options: dict, seed: int, split: str,
                 out_dir: str, params: dict) -> dict:
    """Fit a classical baseline on the train split and evaluate it on `split`."""
    from data_pipelines.report import DataReport
    from mmsa_keras import runs
    from mmsa_keras.baselines import PixelRandomForest, TfidfSVM
    from mmsa_keras.evaluation import compute_metrics, plot_confusion_matrix

    report = DataReport(max_messages=0)
    dataset = runs.load_split_data(data_dir, fmt, seed, report, format_options=format_options, verbose=False)
    has = (lambda p: p.has_image) if kind == "random_forest" else (lambda p: p.has_text)
    train_posts = [p for p in dataset.labelled("train") if has(p)]
    eval_posts = [p for p in dataset.labelled(split) if has(p)]
    if not train_posts or not eval_posts:
        return None
    skipped = len(dataset.labelled(split)) - len(eval_posts)
    model = (PixelRandomForest(seed=seed, **params) if kind == "random_forest" else TfidfSVM(seed=seed, **params))
    model.fit(train_posts)
    probs = model.predict_proba(eval_posts, dataset.num_classes)
    metrics = compute_metrics([p.label for p in eval_posts], probs, dataset.class_names)
    metrics["best_params"] = {k: (v if isinstance(v, (int, float, str)) or v is None else str(v))
                              for k, v in model.best_params.items()}
    metrics["posts_without_the_modality_left_out"] = skipped
    os.makedirs(out_dir, exist_ok=True)
    plot_confusion_matrix(metrics["confusion_matrix"], dataset.class_names,
                          os.path.join(out_dir, f"confusion_matrix_{split}.png"), f"{kind} ({split})")
    runs.write_json(os.path.join(out_dir, "metrics.json"), {split: metrics})
    return metrics


def wann_pairs(cnn_dir: str, rnn_dir: str, wann_dir: str, split: str) -> dict:
    """Paper 000 Table 4: WANN predictions per class and accuracy for each (CNN, RNN) prediction pair."""
    import keras

    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.report import DataReport
    from mmsa_keras import runs
    from mmsa_keras.models.base import class_scores

    cfg = runs.read_json(os.path.join(wann_dir, "run_config.json"))
    dataset = runs.load_split_data(cfg["data_dir"], cfg["format"], cfg["seed"], DataReport(max_messages=0),
                                   splits_file=os.path.join(wann_dir, "splits.json"),
                                   format_options=cfg.get("format_options"), verbose=False)
    posts = dataset.labelled(split)
    preds = {}
    for key, run in (("cnn", cnn_dir), ("rnn", rnn_dir), ("wann", wann_dir)):
        model = keras.saving.load_model(os.path.join(run, "model.keras"), compile=False)
        ds = Preprocessor.load(run).make_dataset(posts, 64, input_names=list(model.input))
        preds[key] = np.concatenate([np.asarray(class_scores(model(x, training=False))).argmax(-1)
                                     for x, _ in ds])
    labels = np.array([p.label for p in posts])
    n = dataset.num_classes
    table = {}
    for a in range(n):
        for b in range(n):
            sel = (preds["cnn"] == a) & (preds["rnn"] == b)
            counts = np.bincount(preds["wann"][sel], minlength=n).tolist()
            acc = float((preds["wann"][sel] == labels[sel]).mean()) if sel.any() else float("nan")
            table[f"{a}{b}"] = {"counts": counts, "accuracy": acc, "posts": int(sel.sum())}
    return table


# ----------------------------------------------------------------------------- the runner
def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def imagenet_available(image_encoder: str) -> tuple[bool, str]:
    """Whether the ImageNet weights of a keras.applications encoder can be had (cached or downloaded)."""
    from mmsa_keras.encoders import build_image_encoder

    try:
        build_image_encoder(image_encoder, weights="imagenet", image_size=64)
        return True, ""
    except Exception as e:  # no network, no cache
        return False, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"


def reproduce(name: str, data_dir: str | None = None, format: str | None = None, protocol: str | None = None,
              seeds: int = 1, smoke: bool = False, out: str = "results", text_encoder: str | None = None,
              image_encoder: str | None = None, variant: str | None = None, epochs: int | None = None,
              finetune: bool = False, verbose: int = 1) -> dict:
    """Run every row of table `name` for `seeds` seeds; write the report. Returns metrics."""
    from data_pipelines.datasets.synthetic import make_synthetic
    from mmsa_keras.training import TrainConfig, train

    config = load_config(name, smoke=smoke)
    out_dir = os.path.join(out, name)
    os.makedirs(out_dir, exist_ok=True)
    ds_cfg = config["dataset"]
    variant = variant or ds_cfg.get("default_variant")
    embedded = data_dir is None
    if embedded:
        data_dir = os.path.join(out_dir, "synthetic_data")
        make_synthetic(data_dir, **config["synthetic"])
        fmt, format_options = "mvsa", {}
        encoders = dict(config["embedded_encoders"])
    else:
        fmt = format or ds_cfg["format"]
        format_options = dict(ds_cfg.get("options", {}))
        encoders = dict(config["encoders"])
    if protocol:
        format_options["protocol"] = protocol
    split_note = ""
    if not embedded and format_options.get("split") == "paper002":
        from data_pipelines.datasets import load_dataset
        from data_pipelines.report import DataReport

        try:
            load_dataset(data_dir, fmt, report=DataReport(max_messages=0), **format_options)
        except ValueError as e:
            if "paper002" not in str(e):
                raise
            format_options["split"] = "random"
            split_note = (f" The paper's 3,200/800/512 split needs more labelled posts than {data_dir} has "
                          "(" + str(e).split("has ")[-1] + "): a seeded stratified 8:1:1 split was used.")
    if ds_cfg.get("keep_classes"):
        format_options["keep_classes"] = list(ds_cfg["keep_classes"])
    encoders["text"] = text_encoder or encoders.get("text")
    encoders["image"] = image_encoder or encoders.get("image")
    training = dict(config["embedded_training"] if embedded else config["training"])
    if finetune:
        training.update(config.get("finetune", {}))
    if epochs is not None:
        training["epochs"] = epochs
    encoder_configs = config.get("encoder_configs", {})
    weights_note = ""
    if encoders["image"] and encoders.get("image_weights") and encoders["image"] == config["encoders"].get("image"):
        ok, why = imagenet_available(encoders["image"])
        if ok:
            training["image_encoder_config"] = {"weights": encoders["image_weights"]}
        else:
            weights_note = (f" ImageNet weights for {encoders['image']} could not be had ({why}): it ran with "
                            "RANDOM weights, so its image features are not the paper's.")
            encoders["image_weights"] = "random (download failed)"
    split = config.get("split", "test")
    unit = config.get("unit", "percent")
    paper_dataset = ds_cfg["name"] + (f" ({variant})" if variant else "")
    if embedded:
        data_line = (f"Ran on the embedded synthetic dataset ({config['synthetic']['posts']} posts), NOT on "
                     f"{paper_dataset}: the measured numbers are not a reproduction of the paper's.")
    else:
        data_line = (f"Ran on {data_dir} (format {fmt}{', ' + str(format_options) if format_options else ''}); "
                     f"the paper used {paper_dataset}.{split_note}")
    image_desc = encoders["image"] or "-"
    if encoders.get("image_weights") and encoders["image"] == config["encoders"].get("image") and not embedded:
        image_desc += f" ({encoders['image_weights']} weights)"
    enc_line = (f"Encoders used: text {encoders['text'] or '-'}, image {image_desc}"
                f"{' (fine-tuned)' if finetune else ''}; the paper's: {config['paper_encoders']}.{weights_note}")
    start = time.time()
    results: dict = {"table": name, "title": config["title"], "unit": unit, "split": split, "seeds": {},
                     "data": data_line, "encoders": enc_line, "rows": {}}
    for seed in range(seeds):
        run_dirs: dict[str, str] = {}
        for row in config["rows"]:
            row_name = row["name"]
            row_dir = os.path.join(out_dir, "models", _slug(row_name), f"seed{seed}")
            kind = row.get("kind", "keras")
            if verbose:
                print(f"[{name}] seed {seed}: {row_name}", flush=True)
            extra = {}
            if kind == "keras":
                overrides = dict(row.get("overrides", {}))
                for key, source in row.get("uses", {}).items():
                    overrides[key] = os.path.join(run_dirs[source], "model.keras")
                # "image_encoder" is part of a row's architecture (the raw-pixel CNN); "paper_image_encoder"
                # is the paper's feature extractor for that row, used on the paper's data only
                text_name = row.get("text_encoder") or encoders["text"]
                image_name = (row.get("image_encoder") or (None if embedded else row.get("paper_image_encoder"))
                              or encoders["image"])
                # a row's own (paper) optimiser applies to the paper's data, not to the embedded set
                settings = {**training, **({} if embedded else row.get("training", {}))}
                settings.setdefault("text_encoder_config", dict(encoder_configs.get(text_name, {})))
                settings.setdefault("image_encoder_config", dict(encoder_configs.get(image_name, {})))
                cfg = TrainConfig(model=row["model"], data_dir=data_dir, format=fmt, out=row_dir, seed=seed,
                                  text_encoder=text_name, image_encoder=image_name,
                                  model_overrides=overrides, format_options=format_options, force=True,
                                  verbose=max(0, verbose - 1), **settings)
                summary = train(cfg)
                metrics = summary["all_metrics"][split]
                run_dirs[row_name] = row_dir
                extra = {"train_seconds": summary["train_seconds"], "feature_mode": summary["feature_mode"],
                         "epochs_run": len(summary["history"]["loss"])}
            elif kind == "without":  # a trained row evaluated with one modality removed (Table 5)
                metrics = evaluate_without(run_dirs[row["from_row"]], split, row["drop"])
            elif kind in ("random_forest", "tfidf_svm"):
                metrics = run_baseline(kind, data_dir, fmt, format_options, seed, split, row_dir,
                                       row.get("params", {}))
                if metrics is None:
                    extra = {"why": f"no posts with {'an image' if kind == 'random_forest' else 'text'}"}
            elif kind == "wann_pairs":
                pairs = wann_pairs(*(run_dirs[r] for r in row["rows"]), split)
                results.setdefault("wann_pairs", {})[str(seed)] = pairs
                continue
            else:
                raise ValueError(f"{name}: unknown row kind {kind!r}")
            entry = results["rows"].setdefault(row_name, {"model": row.get("model", kind), "seeds": {}})
            if metrics is None:  # a row that cannot run on this dataset (e.g. pixels without images)
                results.setdefault("skipped", {})[row_name] = extra.get("why", "")
                continue
            entry["seeds"][str(seed)] = {"metrics": {m: _scale(metric_value(metrics, m), unit_of(unit, m))
                                                     for m in config["metrics"]}, **extra,
                                         "confusion_matrix": metrics["confusion_matrix"]}
    for row_name, entry in results["rows"].items():
        values = {m: [s["metrics"][m] for s in entry["seeds"].values()] for m in config["metrics"]}
        entry["mean"] = {m: float(np.mean(v)) for m, v in values.items()}
        entry["std"] = {m: float(np.std(v)) for m, v in values.items()}
        paper = next(r for r in config["rows"] if r["name"] == row_name).get("paper", {})
        entry["paper"] = paper.get(variant, paper) if variant and isinstance(paper.get(variant), dict) else paper
    results["wall_seconds"] = time.time() - start
    results["seeds"] = list(range(seeds))
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    used = {**config, "data_dir": data_dir, "format": fmt, "format_options": format_options,
            "encoders_used": encoders, "training_used": training, "seeds": seeds, "variant": variant,
            "smoke": smoke}
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(used, f, indent=2, default=str)
    from experiments.report import write_report

    write_report(out_dir, results, config)
    return results
