"""The `mmsa` command.

    mmsa datasets make-synthetic OUT_DIR [--posts N] [--image-size S] [--seed K]
    mmsa datasets describe|validate PATH --format F
    mmsa models
    mmsa recipes
    mmsa train --model NAME --data-dir D --format F --out RUN_DIR [...]   (or --recipe NAME)
    mmsa evaluate RUN_DIR [--split test] [--data-dir D --format F] [--json]
    mmsa cv (--recipe R | --model M ...) --data-dir D --format F --folds K --out DIR
    mmsa compare RUN_A RUN_B [--split test] [--data-dir D --format F] [--json]
    mmsa export RUN_DIR OUT_DIR
    mmsa predict EXPORT_DIR [--text T] [--image PATH] [--csv FILE]
    mmsa serve EXPORT_DIR [--port P]
    mmsa baseline tfidf-svm|random-forest --data-dir D --format F
    mmsa features extract --encoder NAME --data-dir D ...
    mmsa reproduce TABLE [...]          (registered by the `experiments` package)
    mmsa demo [--out DIR]               the embedded default, end to end

Nothing heavy is imported to parse the command line, so `mmsa --help` and
every `--help` answer at once; TensorFlow loads (quietly) when a command runs.
Errors a user can fix print one line on stderr and exit 2 (usage) or 1 (data,
run directory); `--debug` or `MMSA_DEBUG=1` shows tracebacks and TensorFlow's
own start-up messages.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import json
import os
import re
import sys
import time
from importlib.metadata import entry_points

from data_pipelines.datasets import FORMATS, unknown_option
from data_pipelines.datasets.csv_utils import FIELD_SIZE_LIMIT
from data_pipelines.outputs import check_not_enclosing, claim_output_dir, is_owned
from data_pipelines.paths import dataset_root
from data_pipelines.report import DataReport
from mmsa_keras._quiet import filter_native_stderr, quiet_tensorflow
from mmsa_keras.app.config import TrainConfig, add_config_arguments, config_from_args, parse_key_values
from mmsa_keras.app.recipes import RECIPES, recipe_settings
from mmsa_keras.errors import DataError, MMSAError, UsageError
from mmsa_keras.model_index import MODALITIES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FORMAT_HELP = "dataset format: " + ", ".join(FORMATS)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and defaults shown in every help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _tf():
    """Import TensorFlow quietly (its native log lines are shown only with --debug)."""
    quiet_tensorflow()
    filter_native_stderr()


# ============================================================================ helpers
def _format_options(args) -> dict:
    """Reader options from --protocol, --split-by, --layout, --class-names and --option KEY=VALUE."""
    out = parse_key_values(getattr(args, "option", []) or [], "--option")
    for key, attr in (
        ("protocol", "protocol"),
        ("split", "split_by"),
        ("layout", "layout"),
        ("class_names", "class_names"),
    ):
        value = getattr(args, attr, None)
        if value is not None:
            out[key] = value
    if getattr(args, "allow_outside_paths", False):
        out["allow_outside_paths"] = True
    return out


def _check_other_dataset(args) -> None:
    """`evaluate` and `compare` read the run's own posts unless --data-dir names others: --format and the
    reader options describe that other dataset, so without it they would change nothing (a usage error)."""
    if args.data_dir:
        if args.format:
            _check_format(args.format)
        _check_path(args.data_dir)
        return
    flags = {"--format": "format", "--protocol": "protocol", "--split-by": "split_by", "--layout": "layout"}
    flags.update({"--class-names": "class_names", "--option": "option"})
    given = [flag for flag, attr in flags.items() if getattr(args, attr, None)]
    if given:
        raise UsageError(
            f"{', '.join(given)} describe{'s' if len(given) == 1 else ''} the dataset of --data-dir; without "
            "--data-dir the run's own posts are read as the run read them"
        )


def _add_format_options(p, group=None) -> None:
    g = group or p.add_argument_group("dataset options")
    g.add_argument(
        "--protocol", choices=("A", "B"), default=None, help="MVSA original layout: cleaning protocol (default: A)"
    )
    g.add_argument(
        "--split-by",
        default=None,
        help="how the reader splits: file, random, paper002 (MVSA), popularity (emotion folders) "
        "(default: the layout's own splits)",
    )
    g.add_argument("--layout", default=None, help="MVSA layout: original, guid or json (default: detected)")
    g.add_argument(
        "--class-names",
        default=None,
        help="table format: the classes in order, e.g. negative,neutral,positive (default: from the labels)",
    )
    g.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="other reader options, e.g. --option min_words=0 (JSON values; repeatable)",
    )


def _check_path(path: str, what: str = "--data-dir") -> None:
    if not os.path.exists(path):
        raise UsageError(f"{what} {path}: no such file or folder")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        close = difflib.get_close_matches(fmt, FORMATS, n=1)
        raise UsageError(
            f"unknown dataset format {fmt!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; known: {', '.join(FORMATS)}"
        )


# ============================================================================ datasets
def cmd_make_synthetic(args) -> int:
    _tf()
    from data_pipelines.datasets.synthetic import make_synthetic

    summary = make_synthetic(args.out_dir, posts=args.posts, image_size=args.image_size, seed=args.seed)
    print(f"wrote {summary['posts']} posts to {args.out_dir} (MVSA layout)")
    print(f"  classes: {summary['classes']}")
    print(f"  kinds:   {summary['kinds']}")
    return 0


def cmd_describe(args) -> int:
    _check_format(args.format)
    _check_path(args.path, "PATH")
    _tf()
    from data_pipelines.describe import describe, format_description

    d = describe(
        args.path, args.format, check_images=not args.no_image_check, verbose=not args.json, **_format_options(args)
    )
    print(json.dumps(d, indent=2, ensure_ascii=False) if args.json else format_description(d))
    return 0


def _report_duplicates(dataset, args) -> None:
    """Duplicate and near-duplicate posts within and across the splits training would use (seed 0)."""
    from data_pipelines.duplicates import find_duplicates, format_counts, image_hashes, write_pairs
    from data_pipelines.splits import split_dataset

    split = split_dataset(dataset, seed=0)
    labelled = {name: split.labelled(name) for name in split.splits}
    posts = [p for ps in labelled.values() for p in ps]
    with dataset_root(args.path, bool(getattr(args, "allow_outside_paths", False))):
        hashes = image_hashes(posts, verbose=True)
    result = find_duplicates(labelled, hashes, image_distance=args.image_distance)
    print(f"splits checked: {', '.join(f'{n} {len(p)}' for n, p in sorted(labelled.items()))} posts")
    print(format_counts(result))
    if args.duplicates_out:
        write_pairs(args.duplicates_out, result)  # checked before anything was read: a new file
        print(f"{len(result['pairs'])} pairs written to {args.duplicates_out}")


def cmd_validate(args) -> int:
    _check_format(args.format)
    _check_path(args.path, "PATH")
    if args.duplicates_out and os.path.lexists(args.duplicates_out):
        raise UsageError(
            f"--duplicates-out {args.duplicates_out} exists; mmsa does not overwrite a file: choose a new name"
        )
    _tf()
    from data_pipelines.describe import validate
    from mmsa_keras.app.runs import read_dataset

    report = DataReport()
    dataset, _, _ = read_dataset(args.path, args.format, _format_options(args), report=report)
    problems = validate(dataset)
    print(report.summary())
    _report_duplicates(dataset, args)
    if problems:
        for p in problems:
            print(f"FATAL: {p}")
        return 1
    print(f"{args.path}: OK, ready to train")
    return 0


# ============================================================================ models, recipes
def cmd_models(args) -> int:
    from mmsa_keras.model_index import MODELS  # no TensorFlow: the index is checked against the registry

    print(f"{'name':28s} {'paper':5s} {'table':34s} description")
    for name, paper, table, description in MODELS:
        print(f"{name:28s} {paper:5s} {table:34s} {description}")
    return 0


def cmd_recipes(args) -> int:
    for name, recipe in RECIPES.items():
        print(f"{name}: {recipe['description']}")
        for key, value in recipe["settings"].items():
            flag = key.replace("_", "-")
            print(
                f"    --{flag if value is not False else 'no-' + flag}"
                + ("" if isinstance(value, bool) else f" {value}")
            )
        print()
    return 0


# ============================================================================ train, evaluate, export
def _train_config(args, out_kind: str):
    """The `TrainConfig` of `train` / `cv`: a recipe's settings updated by the flags typed, checked (format,
    data path, and an `--out` mmsa may write into, as `out_kind`) before TensorFlow loads."""
    base = {}
    if args.recipe:
        base = recipe_settings(args.recipe)
    missing = [
        f"--{k.replace('_', '-')}" for k in ("model", "data_dir", "out") if k not in vars(args) and k not in base
    ]
    if missing:
        raise UsageError(f"{', '.join(missing)} required (or a --recipe that sets them)")
    config = config_from_args(args, base, f"recipe {args.recipe}")
    if args.recipe:
        config = config.replace(recipe=args.recipe)
    _check_format(config.format)
    reader = {k: v for k, v in _format_options(args).items() if k != "allow_outside_paths"}
    if reader:  # --split-by, --protocol, --layout, --class-names, --option: the reader's, checked now
        problem = unknown_option(config.format, reader)
        if problem:
            raise UsageError(problem)
        config = config.replace(
            format_options={**(config.format_options or {}), **reader},
            sources={**config.sources, **{f"format_options.{k}": "typed" for k in reader}},
        )
    _check_path(config.data_dir)
    _check_read_by_model(config.model, vars(args))
    if os.path.isdir(config.out) and os.listdir(config.out) and not is_owned(config.out, out_kind):
        claim_output_dir(config.out, out_kind)  # refused (raises, naming the folder)
    return config


#: the typed settings only one modality's branch reads (a false switch is not a setting)
_MODALITY_FLAGS = {
    "image": ("image_size", "image_source_size", "image_encoder", "image_weights", "augment"),
    "text": ("sequence_length", "text_encoder", "text_transform", "glove"),
}


def _check_read_by_model(model: str, typed: dict) -> None:
    """A typed flag that the model's modalities never read is a usage error, not a silent no-op."""
    reads = MODALITIES.get(model)
    if reads is None:
        return  # an unknown or plug-in model: the plan names it
    for modality, keys in _MODALITY_FLAGS.items():
        unread = [
            f"--{k.replace('_', '-')}" for k in keys if typed.get(k) not in (None, False) and modality not in reads
        ]
        if unread:
            raise UsageError(
                f"{', '.join(unread)}: {model} reads no {modality} (it reads {' and '.join(reads) or 'no posts'}); "
                "drop the flag or choose a model that reads it"
            )


def _metrics_line(m: dict) -> str:
    """`accuracy 68.4 [63.9, 72.7], weighted F1 ..., macro F1 ... (%, 95% intervals, n=...)`."""
    from mmsa_keras.uncertainty import format_interval

    ci = m["intervals"]
    return (
        f"accuracy {format_interval(m['accuracy'], ci['accuracy'])}, "
        f"weighted F1 {format_interval(m['weighted']['f1'], ci['weighted_f1'])}, "
        f"macro F1 {format_interval(m['macro']['f1'], ci['macro_f1'])} (%, 95% intervals, n={m['num_examples']})"
    )


def cmd_train(args) -> int:
    config = _train_config(args, "run")
    _tf()
    from mmsa_keras.app.training import train

    summary = train(config)
    if summary.chief is False:
        print(f"this worker's part of the run is done; the chief wrote {config.out}")
    elif summary.trained:
        m = summary.metrics
        caveat = ""
        if m.get("split") == "validation":  # no test split: the only figure is the one that picked the epoch
            caveat = (
                " (the split that chose the epoch: optimistic; evaluate on held-out posts with "
                f"`mmsa evaluate {config.out} --data-dir D --split S`)"
            )
        print(
            f"trained in {summary.train_seconds:.1f}s ({summary.epochs_run} epochs); "
            f"{m.get('split', 'test')} {_metrics_line(m)}{caveat}; run directory: {config.out}"
        )
    return 0


def cmd_cv(args) -> int:
    if not 0 < args.validation_fraction < 0.5:
        raise UsageError("--validation-fraction must be between 0 and 0.5")
    config = _train_config(args, "results")
    _tf()
    from mmsa_keras.app.cv import cross_validate, format_cv

    summary = cross_validate(config, args.folds, args.seeds, args.validation_fraction)
    print(format_cv(summary))
    print(f"\nwritten to {os.path.join(config.out, 'cv.md')} and cv.json")
    return 0


def cmd_evaluate(args) -> int:
    _check_other_dataset(args)
    _tf()
    from mmsa_keras.app.runs import Run

    run = Run(args.run_dir)
    run.require_model()
    quiet = 0 if args.json else 1
    if args.data_dir:
        fmt = args.format or run.plan.data.format  # the run's own format unless another is given
        metrics = run.evaluate_on(
            args.data_dir, fmt, args.split, _format_options(args), verbose=quiet, errors=args.errors
        )
        where = os.path.join(args.run_dir, "evaluations", "metrics.json")
    else:
        metrics = run.evaluate(args.split, verbose=quiet, errors=args.errors)
        where = os.path.join(args.run_dir, "metrics.json")
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": metrics["accuracy"],
                    "weighted_f1": metrics["weighted"]["f1"],
                    "macro_f1": metrics["macro"]["f1"],
                    "n": metrics["num_examples"],
                    "intervals": metrics.get("intervals"),
                    "split": args.split,
                    "data_dir": args.data_dir or run.plan.data.data_dir,
                    "per_class": metrics["per_class"],
                    "confusion_matrix": metrics["confusion_matrix"],
                    "class_names": metrics["class_names"],
                }
            )
        )
    else:
        print(f"metrics written to {where}")
    return 0


def cmd_compare(args) -> int:
    _check_other_dataset(args)
    for d in (args.run_a, args.run_b):
        _check_path(d, "RUN")
    _tf()
    from mmsa_keras.app.compare import compare, format_comparison

    result = compare(
        args.run_a, args.run_b, args.data_dir, args.format, args.split, _format_options(args), seed=args.seed
    )
    print(json.dumps(result) if args.json else format_comparison(result))
    return 0


def cmd_export(args) -> int:
    # refused before TensorFlow loads: the current folder, the run itself or a parent of it, other files
    check_not_enclosing(args.out_dir, {"the run being exported": args.run_dir}, flag="OUT_DIR")
    if os.path.isdir(args.out_dir) and os.listdir(args.out_dir) and not is_owned(args.out_dir, "export"):
        claim_output_dir(args.out_dir, "export", flag="OUT_DIR")  # raises, naming the folder
    _tf()
    from mmsa_keras.app.export import export_run

    export_run(args.run_dir, args.out_dir)
    print(f"SavedModel (signature 'serve': text, image_bytes -> probabilities, label) in {args.out_dir}")
    return 0


# ============================================================================ predict
def _predict_rows(path: str):
    """Yield `(line, id, text, image path or None)` from a CSV with text and/or image_path columns."""
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    if not os.path.isfile(path):
        raise DataError(f"--csv {path}: no such file")
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower(): c for c in reader.fieldnames or []}
        if "text" not in cols and "image_path" not in cols:
            raise DataError(f"{path}:1: needs a 'text' and/or an 'image_path' column (found {list(cols) or 'none'})")
        base = os.path.dirname(os.path.abspath(path))
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:  # e.g. a field over the size limit: the rows before it were predicted
                where = f"{path}:{start}"
                raise DataError(f"{where}: unreadable CSV row ({e}); the rows before it were predicted") from None
            line = reader.line_num
            image = (row.get(cols.get("image_path", ""), "") or "").strip()
            if image and not os.path.isabs(image):
                image = os.path.join(base, image)
            pid = (row.get(cols.get("id", ""), "") or "").strip() or str(line)
            yield line, pid, row.get(cols.get("text", ""), "") or "", image or None


def _check_post_args(args) -> None:
    if not args.csv and args.text is None and args.image is None:
        raise UsageError("give --text, --image (or both), or --csv")
    if args.csv and (args.text is not None or args.image is not None):
        raise UsageError("--csv cannot be combined with --text / --image")


def _image_wall(args):
    """A CSV's image paths stay inside its folder (symlinks resolved) unless --allow-outside-paths."""
    return dataset_root(args.csv, allow_outside=args.allow_outside_paths) if args.csv else contextlib.nullcontext()


def _usable_image(args, line: int, image: str | None, doing: str) -> str | None:
    """`image`, or None with a one-line note on stderr when it is missing, outside or undecodable."""
    from data_pipelines.images import check_image_file

    if not image:
        return None
    kind, message = check_image_file(image)
    if kind is None:
        return image
    where = f"{args.csv}:{line}: " if args.csv else ""
    print(f"[mmsa] {where}{image}: {kind.replace('_', ' ')} ({message}); {doing} without the image", file=sys.stderr)
    return None


def cmd_predict(args) -> int:
    _check_post_args(args)
    _tf()
    from mmsa_keras.app.export import ExportedModel

    model = ExportedModel(args.model_dir)
    names = model.class_names
    rows = _predict_rows(args.csv) if args.csv else iter([(0, "input", args.text or "", args.image)])
    print("id\tlabel\t" + "\t".join(f"p({n})" for n in names), flush=True)
    count = 0

    def flush(batch):
        probs = model.predict([r[2] for r in batch], [r[3] for r in batch])
        for row, p in zip(batch, probs):
            print(f"{row[1]}\t{names[int(p.argmax())]}\t" + "\t".join(f"{x:.4f}" for x in p))
        sys.stdout.flush()

    batch = []
    with _image_wall(args):
        try:
            for line, pid, text, image in rows:
                image = _usable_image(args, line, image, "predicting")
                batch.append((line, pid, text, image))
                count += 1
                if len(batch) >= args.batch_size:
                    flush(batch)
                    batch = []
        finally:
            if batch:
                flush(batch)
    if count == 0:
        raise DataError(f"{args.csv}: no posts (only a header?)")
    return 0


def cmd_explain(args) -> int:
    _check_post_args(args)
    if args.limit < 1 or args.steps < 2 or args.grid < 1 or args.deletion_check < 0:
        raise UsageError("--limit and --grid must be at least 1, --steps at least 2, --deletion-check at least 0")
    check_not_enclosing(args.out, {"the model being explained": args.model}, flag="--out")
    claim_output_dir(args.out, "explanations")
    _clear_explanations(args.out)
    _tf()
    from data_pipelines.images import MAX_IMAGE_BYTES, read_regular_file
    from mmsa_keras.app.explain import Explainer, deletion_check, load_explainable
    from mmsa_keras.app.explain_report import render_post, write_index, write_json

    model, preprocessor, names = load_explainable(args.model)
    try:
        explainer = Explainer(model, preprocessor, names, method=args.method, steps=args.steps, grid=args.grid)
    except ValueError as e:
        raise UsageError(f"--method {args.method}: {e}") from None
    rows = _predict_rows(args.csv) if args.csv else iter([(0, "input", args.text or "", args.image)])
    entries, posts = [], []
    with _image_wall(args):
        for line, pid, text, image in rows:
            if len(posts) >= args.limit:
                print(f"[explain] --limit {args.limit}: the CSV's later posts are not explained", file=sys.stderr)
                break
            image = _usable_image(args, line, image, "explaining")
            data = read_regular_file(image, MAX_IMAGE_BYTES)[0] or b"" if image else b""
            explanation = explainer.explain(text, data)
            png = f"post_{len(entries):04d}.png"
            render_post(os.path.join(args.out, png), pid, data, explanation, names, preprocessor.image_size)
            entries.append({"id": pid, "line": line, "text": text, "png": png, "explanation": explanation})
            posts.append((text, data))
            print(f"[explain] {len(entries)}: {pid} -> {explanation['predicted']} ({png})", flush=True)
    if not entries:
        raise DataError(f"{args.csv}: no posts (only a header?)")
    extra = {"model": args.model, "token_method": explainer.method, "image_method": "occlusion", "grid": args.grid}
    if args.deletion_check:
        check = deletion_check(explainer, posts, k=args.deletion_check) if explainer.method else None
        extra["deletion_check"] = check
        print(_deletion_line(check) if check else "[explain] deletion check: the model reads no caption")
    write_json(args.out, entries, extra)
    print(f"{len(entries)} posts explained: {write_index(args.out, entries, names, args.model)}")
    return 0


def _clear_explanations(folder: str) -> None:
    """An earlier `mmsa explain` into the same (mmsa-owned) folder: remove its pages, numbers and PNGs, so no
    stale post is left beside the new ones; any other file is left alone."""
    for name in os.listdir(folder):
        if re.fullmatch(r"post_\d{4,}\.png|index\.html|explanations\.json", name):
            os.remove(os.path.join(folder, name))


def _deletion_line(check: dict) -> str:
    def pct(d):
        lo, hi = d["interval"]
        return f"{d['mean'] * 100:+.2f} [{lo * 100:+.2f}, {hi * 100:+.2f}]"

    return (
        f"[explain] deletion check ({check['method'].replace('_', ' ')}, k={check['k']}, {check['posts']} posts, "
        f"{check['skipped_short']} too short): p(predicted) drops {pct(check['top_k_drop'])} points deleting the "
        f"top-{check['k']} tokens, {pct(check['random_k_drop'])} deleting {check['k']} random ones; "
        f"difference {pct(check['difference'])} (95% bootstrap), top larger in {check['top_larger_share']:.0%}"
    )


def cmd_serve(args) -> int:
    _tf()
    try:  # starlette and uvicorn load first: a missing one is a usage error naming the pip command
        from mmsa_keras.app.serving import serve_forever
    except ModuleNotFoundError as e:
        if e.name not in ("starlette", "uvicorn"):
            raise
        raise UsageError(
            f'`mmsa serve` needs {e.name}: pip install "starlette>=0.40" "uvicorn>=0.30" (or pip install -e ".[serve]")'
        ) from None

    serve_forever(
        args.model_dir,
        host=args.host,
        port=args.port,
        max_request_bytes=args.max_request_bytes,
        max_batch=args.max_batch,
        read_timeout_s=args.read_timeout,
        max_request_pixels=args.max_request_pixels,
    )
    return 0


# ============================================================================ baselines, features
def cmd_baseline(args) -> int:
    _check_format(args.format)
    _check_path(args.data_dir)
    _tf()
    from mmsa_keras.app.baseline_runs import run_baseline_cli

    metrics = run_baseline_cli(
        args.kind,
        args.data_dir,
        args.format,
        _format_options(args),
        seed=args.seed,
        split=args.split,
        out=args.out,
        verbose=not args.json,
        params=_grid(args),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": metrics["accuracy"],
                    "weighted_f1": metrics["weighted"]["f1"],
                    "macro_f1": metrics["macro"]["f1"],
                    "n": metrics["num_examples"],
                    "intervals": metrics.get("intervals"),
                    "best_params": metrics.get("best_params"),
                }
            )
        )
    return 0


def _grid(args):
    return parse_key_values(args.param, "--param")


def cmd_features_extract(args) -> int:
    """Run one frozen encoder over a dataset into the feature store (the same store `mmsa train` reads)."""
    _check_format(args.format)
    _check_path(args.data_dir)
    if args.num_shards < 1 or not 0 <= args.shard_index < args.num_shards:
        raise UsageError("--shard-index must be in 0 .. --num-shards - 1")

    if args.out and os.path.isdir(args.out) and os.listdir(args.out) and not is_owned(args.out, "features"):
        claim_output_dir(args.out, "features", flag="--out")  # refused before TensorFlow loads
    _tf()
    from mmsa_keras.app.features_cli import extract  # imports TensorFlow: after _tf(), never for --help

    config = TrainConfig(
        model="",
        data_dir=args.data_dir,
        out="",
        format=args.format,
        seed=args.seed,
        image_size=args.image_size,
        sequence_length=args.sequence_length,
        image_weights=args.weights,
        feature_store=args.out,
        format_options=_format_options(args),
    )
    extract(
        config,
        args.encoder,
        sequences=args.sequences,
        batch_size=args.batch_size,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
    )
    return 0


def cmd_convert_alexnet(args) -> int:
    _tf()
    from mmsa_keras.encoders.alexnet_weights import convert_caffe_alexnet

    out = convert_caffe_alexnet(args.src, args.out, force=args.force)
    print(f"AlexNet weights written to {out}; use them with --image-weights alexnet={out}")
    return 0


# ============================================================================ demo
def cmd_demo(args) -> int:
    """The embedded default end to end: data → train → evaluate → export → predict."""
    _tf()
    from data_pipelines.datasets.synthetic import make_synthetic
    from mmsa_keras.app.export import ExportedModel, export_run
    from mmsa_keras.app.training import train

    start = time.time()
    data_dir = os.path.join(args.out, "synthetic_data")
    run_dir = os.path.join(args.out, "native_cat")
    print(f"[1/4] writing the synthetic dataset ({args.posts} posts) to {data_dir}")
    make_synthetic(data_dir, posts=args.posts, image_size=64, seed=args.seed)
    print("[2/4] training native_cat (paper 002) with the small CNN and small transformer")
    summary = train(
        TrainConfig(model="native_cat", data_dir=data_dir, out=run_dir, epochs=args.epochs, seed=args.seed, force=True)
    )
    export_dir = os.path.join(run_dir, "export")
    print(f"[3/4] exporting a SavedModel with a raw-input signature to {export_dir}")
    export_run(run_dir, export_dir)
    print("[4/4] predicting on two posts through the exported model")
    model = ExportedModel(export_dir)
    example_image = sorted(f for f in os.listdir(os.path.join(data_dir, "data")) if f.endswith(".jpg"))[0]
    probs = model.predict(
        ["what a wonderful day with friends #blessed", ""], [None, os.path.join(data_dir, "data", example_image)]
    )
    for label, p in zip(
        ["text only: 'what a wonderful day with friends #blessed'", f"image only: {example_image}"], probs
    ):
        print(
            f"  {label} -> {model.class_names[int(p.argmax())]} "
            + " ".join(f"{n}={x:.3f}" for n, x in zip(model.class_names, p))
        )
    print(f"\ndone in {time.time() - start:.0f}s. test {_metrics_line(summary.metrics)}")
    print(f"run directory: {run_dir} (metrics.json, confusion_matrix_test.png, model.keras, export/)")
    return 0


# ============================================================================ parser
def _add_dataset_commands(sub) -> None:
    """`datasets make-synthetic / describe / validate`."""
    ds = sub.add_parser("datasets", help="dataset tools").add_subparsers(
        dest="datasets_command", required=True, metavar="COMMAND", parser_class=Parser
    )
    p = ds.add_parser("make-synthetic", help="write the embedded synthetic dataset (MVSA layout)")
    p.add_argument("out_dir", help="folder to write")
    p.add_argument("--posts", type=int, default=600, help="number of posts (default: 600)")
    p.add_argument("--image-size", type=int, default=64, help="image side in pixels (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.set_defaults(func=cmd_make_synthetic)
    for name, func, text in (
        ("describe", cmd_describe, "posts per split and class, and every problem found"),
        ("validate", cmd_validate, "exit non-zero if the dataset cannot train"),
    ):
        p = ds.add_parser(name, help=text)
        p.add_argument("path", help="dataset folder (or the CSV file for twitter_csv / table)")
        p.add_argument("--format", required=True, help=FORMAT_HELP)
        p.add_argument(
            "--allow-outside-paths",
            action="store_true",
            help="read files that resolve outside the dataset folder (absolute or ../ image paths of a table, "
            "symlinks leading out of the folder; default: refused and counted)",
        )
        _add_format_options(p)
        if name == "validate":
            p.add_argument(
                "--duplicates-out", default=None, metavar="FILE", help="write every duplicate pair to this CSV file"
            )
            p.add_argument(
                "--image-distance",
                type=int,
                default=2,
                help="images whose 64-bit dHashes differ in at most this many bits are near-duplicates (default: 2)",
            )
        if name == "describe":
            p.add_argument("--json", action="store_true", help="print one JSON object")
            p.add_argument("--no-image-check", action="store_true", help="skip decoding every image")
        p.set_defaults(func=func)


def _add_training_commands(sub) -> None:
    """`models`, `recipes`, `train`, `cv`."""
    sub.add_parser("models", help="list registered models").set_defaults(func=cmd_models)
    sub.add_parser("recipes", help="list training recipes and what they set").set_defaults(func=cmd_recipes)

    p = sub.add_parser(
        "train",
        help="train a registered model (resumes an interrupted run)",
        description="Train a model. Every setting has a default; a --recipe sets many at once "
        "and any flag given explicitly overrides it.",
    )
    p.add_argument("--recipe", default=None, help="start from a recipe's settings (`mmsa recipes`)")
    add_config_arguments(p, required=())
    _add_format_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "cv",
        help="stratified K-fold cross-validation of a recipe or model, TF-IDF on the same folds",
        description="Cross-validate on the posts the dataset offers for training (never its own test split): "
        "each fold trains as `mmsa train` does; TF-IDF + LinearSVC runs on the same folds; the report gives "
        "every fold, mean +- std and the paired out-of-fold difference with its 95% interval.",
    )
    p.add_argument("--recipe", default=None, help="start from a recipe's settings (`mmsa recipes`)")
    p.add_argument("--folds", type=int, default=3, help="number of folds (default: 3)")
    p.add_argument("--seeds", type=int, default=1, help="training seeds per fold (default: 1)")
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of each fold's training posts held out for early stopping (default: 0.1)",
    )
    add_config_arguments(p, required=())
    _add_format_options(p)
    p.set_defaults(func=cmd_cv)


def _add_model_commands(sub) -> None:
    """The commands that use a trained model: evaluate, compare, export, predict, explain, serve."""
    p = sub.add_parser("evaluate", help="evaluate a run on its own split or on another dataset")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", help="test, validation, train or all (default: test)")
    p.add_argument("--data-dir", default=None, help="evaluate on this dataset instead of the run's own")
    p.add_argument("--format", default=None, help=FORMAT_HELP + " (with --data-dir; default: the run's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object (accuracy, weighted_f1, macro_f1, n)")
    p.add_argument(
        "--errors",
        type=int,
        default=0,
        metavar="N",
        help="write errors_<split>.html: the N most confident mistakes, grouped by confusion pair (default: none)",
    )
    _add_format_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "compare",
        help="two runs (or baseline folders) on the same posts: paired differences, intervals, McNemar",
    )
    p.add_argument("run_a", help="a training run or an `mmsa baseline --out` folder")
    p.add_argument("run_b", help="the same, compared with RUN_A (differences are A - B)")
    p.add_argument("--split", default="test", help="test, validation, train or all (default: test)")
    p.add_argument("--data-dir", default=None, help="compare on this dataset instead of the runs' own split")
    p.add_argument("--format", default=None, help=FORMAT_HELP + " (with --data-dir; default: the first run's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_format_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export", help="export a run as a SavedModel taking raw inputs")
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="predict with an exported model")
    p.add_argument("model_dir", help="an `mmsa export` folder")
    p.add_argument("--text", help="a caption")
    p.add_argument("--image", help="an image file")
    p.add_argument("--csv", help="CSV with columns text and/or image_path (and optional id); streamed in batches")
    p.add_argument("--batch-size", type=int, default=64, help="posts per batch for --csv (default: 64)")
    p.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="--csv: read image paths that resolve outside the CSV's folder (absolute paths, symlinks; "
        "default: refused, the post is predicted without its image)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="per-post token attributions, image heat map and modality contributions")
    p.add_argument("model", help="a training run or an `mmsa export` folder")
    p.add_argument("--text", help="a caption")
    p.add_argument("--image", help="an image file")
    p.add_argument("--csv", help="CSV with columns text and/or image_path (and optional id)")
    p.add_argument("--out", default="explanations", help="folder for the PNGs, index.html and explanations.json")
    p.add_argument(
        "--method",
        choices=("auto", "integrated_gradients", "occlusion"),
        default="auto",
        help="token attributions: integrated gradients on the token embeddings where the model has one and "
        "reads no raw caption, else word occlusion (auto)",
    )
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients steps")
    p.add_argument("--grid", type=int, default=8, help="image occlusion grid side (cells per row)")
    p.add_argument("--limit", type=int, default=100, help="explain at most this many posts of --csv")
    p.add_argument(
        "--deletion-check",
        type=int,
        default=0,
        metavar="K",
        help="also delete each post's top-K attributed tokens and K random ones and report the drops (0: off)",
    )
    p.add_argument("--allow-outside-paths", action="store_true", help="--csv: read image paths outside its folder")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("serve", help="a local HTTP JSON endpoint over an exported model")
    p.add_argument("model_dir", help="an `mmsa export` folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501, help="port (default: 8501; 0 picks a free one)")
    p.add_argument(
        "--max-request-bytes",
        type=int,
        default=32 * 1024 * 1024,
        help="largest request body accepted (default: 32 MiB)",
    )
    p.add_argument("--max-batch", type=int, default=64, help="posts run together at most (default: 64)")
    p.add_argument(
        "--read-timeout", type=float, default=30.0, help="seconds a request body may take to arrive (default: 30)"
    )
    p.add_argument(
        "--max-request-pixels",
        type=int,
        default=40_000_000,
        help="image pixels one request (and one model call) may announce in all; a larger single image is "
        "predicted without it (default: 40,000,000)",
    )
    p.set_defaults(func=cmd_serve)


def _add_tool_commands(sub) -> None:
    """`baseline`, `features`, `convert-alexnet`, `demo`."""
    p = sub.add_parser("baseline", help="a classical baseline on the same splits and metrics as train")
    p.add_argument("kind", choices=("tfidf-svm", "random-forest"))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--format", default="mvsa", help=FORMAT_HELP + " (default: mvsa)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    p.add_argument("--split", default="test", help="split evaluated (default: test)")
    p.add_argument("--out", default=None, help="folder for metrics.json and the confusion matrix (default: none)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="estimator / grid settings, e.g. --param C=[0.1,1,10] (JSON values)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_format_options(p)
    p.set_defaults(func=cmd_baseline)

    fx = sub.add_parser("features", help="feature store").add_subparsers(
        dest="features_command", required=True, metavar="COMMAND", parser_class=Parser
    )
    p = fx.add_parser("extract", help="run a frozen encoder over a dataset once, into the shared store")
    p.add_argument(
        "--encoder",
        required=True,
        help="resnet50, mobilenet_v2, inception_v3, alexnet, minilm_l6, a keras-hub preset or a local directory",
    )
    p.add_argument("--data-dir", required=True)
    p.add_argument("--format", default="mvsa", help=FORMAT_HELP + " (default: mvsa)")
    p.add_argument(
        "--out",
        default=None,
        help="feature store folder (default: the store `mmsa train` uses, "
        "$MMSA_CACHE_DIR/features or ~/.cache/mmsa_keras/features)",
    )
    p.add_argument(
        "--weights",
        default=None,
        help="image encoders: imagenet (the default where it exists), none, or a weights file",
    )
    p.add_argument("--image-size", type=int, default=None, help="default: the encoder's own")
    p.add_argument("--sequence-length", type=int, default=32, help="tokens per caption (default: 32, as train)")
    p.add_argument("--batch-size", type=int, default=32, help="default: 32")
    p.add_argument("--sequences", action="store_true", help="also store token states / spatial maps")
    p.add_argument("--seed", type=int, default=0, help="seed of a randomly initialised encoder (default: 0)")
    p.add_argument("--num-shards", type=int, default=1, help="split the work over N processes (default: 1)")
    p.add_argument("--shard-index", type=int, default=0, help="this process's shard, 0..N-1 (default: 0)")
    _add_format_options(p)
    p.set_defaults(func=cmd_features_extract)

    p = sub.add_parser("convert-alexnet", help="convert Caffe AlexNet weights (bvlc_alexnet.npy) for paper 003")
    p.add_argument("src", help="bvlc_alexnet.npy: {layer: [weights, biases]}, conv kernels [h, w, in/groups, out]")
    p.add_argument("out", help="the .weights.h5 file to write (an existing file is refused)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=cmd_convert_alexnet)

    p = sub.add_parser("demo", help="the embedded default end to end")
    p.add_argument("--out", default="runs/demo", help="default: runs/demo")
    p.add_argument("--posts", type=int, default=600, help="default: 600")
    p.add_argument("--epochs", type=int, default=12, help="default: 12")
    p.add_argument("--seed", type=int, default=0, help="default: 0")
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mmsa",
        description="Multimodal (image + text) sentiment models in Keras 3: train, "
        "evaluate, export, serve, and reproduce the papers' tables.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and TensorFlow's start-up messages (also MMSA_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    _add_dataset_commands(sub)
    _add_training_commands(sub)
    _add_model_commands(sub)
    _add_tool_commands(sub)
    _register_plugins(sub)
    return parser


def _register_plugins(sub) -> None:
    """Commands contributed by other packages through the `mmsa.commands` entry point group
    (`mmsa reproduce` comes from `experiments`; mmsa_keras never imports it)."""
    for ep in entry_points(group="mmsa.commands"):
        try:
            ep.load()(sub)
        except Exception as e:  # a broken plugin must not break the other commands
            print(f"mmsa: the command {ep.name!r} could not be loaded ({type(e).__name__}: {e})", file=sys.stderr)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("MMSA_DEBUG", "").strip() not in ("", "0", "false", "no")
    if debug:
        os.environ["MMSA_DEBUG"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    args = build_parser().parse_args(argv)

    try:
        return int(args.func(args) or 0)
    except MMSAError as e:
        if debug:
            raise
        print(f"mmsa {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(
            f"mmsa {args.command}: interrupted; running the same command again resumes a training run", file=sys.stderr
        )
        return 130
    except ImportError as e:  # a missing optional package is a usage error naming its pip command
        if debug:
            raise
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "pip install" not in text and getattr(e, "name", None):
            text += f" (pip install {e.name.split('.')[0].replace('_', '-')})"
        print(f"mmsa {args.command}: error: {text}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, KeyError, OSError) as e:
        if debug:
            raise
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"mmsa {args.command}: error: {text}", file=sys.stderr)
        return int(getattr(e, "exit_code", 1))
    except Exception as e:  # noqa: BLE001 - the last resort keeps the promise of one line
        if debug:
            raise
        text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        print(
            f"mmsa {args.command}: internal error: {type(e).__name__}: {text} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
