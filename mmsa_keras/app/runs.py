"""The run directory: what a training run leaves behind, and `Run`, the one way to reload it.

Layout of `RUN_DIR/`:
    run_config.json      the settings as given (`config`) and as resolved (`plan`), class names,
                         dataset summary, precision/strategy/feature mode actually used
    splits.json          post ids of every split, so evaluation uses the same test set
    preprocessing.json   image size, normalisation, per-channel mean/std
    tokenizer.json       tokenizer settings and vocabulary (`tokenizer_preset/` for keras-hub ones)
    model.keras          the trained model (best weights unless --no-early-stopping)
    history.csv          one row per epoch; training_curves.png
    data_report.json     bad input found while reading (counts and files)
    metrics.json         evaluation per split; confusion_matrix_<split>.png
    evaluations/         `mmsa evaluate RUN --data-dir OTHER` results
    checkpoints/         the best epoch's weights (ModelCheckpoint)
    backup/              the resumable training state (removed once training completes)
    .lock                the pid of the process writing to RUN_DIR

`Run(run_dir)` reads it back (settings, plan, splits, preprocessor, model) for
`mmsa evaluate`, `mmsa export`, the reproduce runner and the Python API.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import socket
import sys
import time

from data_pipelines.datasets import load_dataset, unknown_option
from data_pipelines.image_cache import file_digest
from data_pipelines.images import scan_images
from data_pipelines.outputs import is_owned
from data_pipelines.paths import dataset_root
from data_pipelines.pipeline import Preprocessor
from data_pipelines.post import MultimodalDataset
from data_pipelines.report import DataReport
from data_pipelines.splits import split_dataset, stratified_split
from mmsa_keras.app.config import TrainConfig
from mmsa_keras.app.evaluation import evaluate_posts, predict_dataset
from mmsa_keras.app.gallery import write_error_gallery
from mmsa_keras.app.jsonfiles import read_json, write_json
from mmsa_keras.app.plan import RunPlan
from mmsa_keras.calibration import apply_temperature, calibration_metrics, plot_reliability
from mmsa_keras.custom_objects import load_model
from mmsa_keras.errors import DataError, RunError, UsageError

RUN_CONFIG = "run_config.json"
MODEL_FILE = "model.keras"
BACKUP_DIR = "backup"
#: what --force removes
RUN_OUTPUTS = (
    "model.keras",
    "data_fingerprint.json",
    "history.csv",
    "metrics.json",
    "splits.json",
    "preprocessing.json",
    "tokenizer.json",
    "data_report.json",
    "training_curves.png",
    "calibration.json",
    "tfidf.json",
    RUN_CONFIG,
)
RUN_OUTPUT_DIRS = ("checkpoints", BACKUP_DIR, "tensorboard", "tokenizer_preset", "evaluations")
#: settings that do not change what a run computes
# "out": a run directory that was moved or copied resumes where it is
IGNORED_FOR_RESUME = ("verbose", "force", "tensorboard", "run_eagerly", "recipe", "out", "sources")


# ----------------------------------------------------------------------------- the data a run trained on
FINGERPRINT_FILE = "data_fingerprint.json"


def _image_digest(path: str | None) -> str:
    if not path:
        return ""
    try:
        return file_digest(path).hex()
    except OSError:
        return "unreadable"


def data_fingerprint(dataset: MultimodalDataset) -> dict:
    """What a run was trained on: per post (id) a digest of its split, label, caption and image bytes,
    and one digest over all of them. Stored as `RUN_DIR/data_fingerprint.json`."""
    posts = {}
    for split, members in sorted(dataset.splits.items()):
        for p in members:
            content = json.dumps([split, p.label, p.text, _image_digest(p.image_path)], ensure_ascii=False)
            posts[p.id] = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
    overall = hashlib.sha256(json.dumps(sorted(posts.items())).encode("utf-8")).hexdigest()
    return {"sha256": overall, "num_posts": len(posts), "class_names": list(dataset.class_names), "posts": posts}


def fingerprint_changes(saved: dict, current: dict) -> str | None:
    """None when the data is the same; else a short description of what changed."""
    if saved.get("sha256") == current["sha256"] and saved.get("class_names") == current["class_names"]:
        return None
    old, new = saved.get("posts") or {}, current["posts"]
    changed = sorted(i for i in set(old) & set(new) if old[i] != new[i])
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    parts = [
        f"{len(v)} post{'s' if len(v) != 1 else ''} {what} (first: {v[0]})"
        for v, what in ((changed, "changed"), (added, "added"), (removed, "removed"))
        if v
    ]
    if saved.get("class_names") != current["class_names"]:
        parts.append(f"classes {saved.get('class_names')} → {current['class_names']}")
    return "; ".join(parts) or "the data differs"


# ----------------------------------------------------------------------------- data of a run
_DATASETS: dict = {}


def _stat_fingerprint(path: str) -> tuple:
    """Modification times of a dataset path and its top-level entries (a changed dataset is re-read)."""
    try:
        if os.path.isdir(path):
            return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(path)))
        st = os.stat(path)
        return ((path, st.st_mtime_ns, st.st_size),)
    except OSError:
        return ()


def read_dataset(
    data_dir: str, format: str, format_options=None, report: DataReport | None = None, verbose: bool = True
) -> tuple[MultimodalDataset, DataReport, bool]:
    """Read a dataset once per process; returns `(dataset, report, first_time)`.

    The same folder read again (every row of a table, evaluation after
    training) reuses the posts and the report, so bad input is reported once.
    """
    key = (
        os.path.abspath(data_dir),
        format,
        json.dumps(format_options or {}, sort_keys=True, default=str),
        _stat_fingerprint(data_dir),
    )
    if key in _DATASETS:
        dataset, cached_report = _DATASETS[key]
        if report is not None:
            report.merge(cached_report)
        return copy.deepcopy(dataset), cached_report, False

    problem = unknown_option(format, format_options)
    if problem:  # an option nothing would read is a usage error, not a silent loss
        raise UsageError(problem)
    report = report if report is not None else DataReport(max_messages=10 if verbose else 0)

    synthetic = format == "mvsa" and is_owned(data_dir, "synthetic")
    gaps = {"missing_text", "empty_text", "missing_image"}
    if synthetic:  # its posts without a caption or an image are there by design: one line, not one per post
        report.quiet |= gaps
    try:
        dataset = load_dataset(data_dir, format, report=report, **(format_options or {}))
    except (FileNotFoundError, ValueError) as e:
        raise DataError(str(e)) from None
    finally:
        report.quiet -= gaps
    if synthetic and verbose and report.max_messages > 0:
        words = {"missing_text": "no caption file", "empty_text": "empty caption", "missing_image": "no image"}
        counts = ", ".join(f"{words[k]} {report.count(k)}" for k in sorted(gaps) if report.count(k))
        print(
            f"[mmsa] {data_dir}: synthetic set, gaps by design: {counts} (counted in the data report)", file=sys.stderr
        )

    options = format_options or {}
    with dataset_root(data_dir, bool(options.get("allow_outside_paths")), extra=(options.get("image_dir"),)):
        scan_images([p for posts in dataset.splits.values() for p in posts], report, verbose=verbose)
    _DATASETS[key] = (copy.deepcopy(dataset), report)
    return dataset, report, True


def load_split_data(
    data_dir: str,
    format: str,
    seed: int,
    report: DataReport | None = None,
    splits_file: str | None = None,
    format_options=None,
    verbose: bool = True,
    holdout_fraction: float | None = None,
    train_on_holdout: bool = False,
    test_split: bool = True,
) -> MultimodalDataset:
    """Read a dataset, split it (or re-apply saved splits) and check its images.

    With `holdout_fraction`, a seeded stratified part of the training split is
    held out: the run trains on the rest, or on that part with
    `train_on_holdout` (paper 000's WANN learns from posts its unimodal models
    never saw). Validation and test are untouched.
    """
    dataset, _, _ = read_dataset(data_dir, format, format_options, report=report, verbose=verbose)
    ids = None
    if splits_file and os.path.exists(splits_file):
        try:
            ids = read_json(splits_file)
            if not isinstance(ids, dict) or not all(isinstance(v, list) for v in ids.values()):
                raise RunError(f"{splits_file}: not a mapping of split names to post ids")
        except RunError as e:  # the splits are seeded: made again, they are the same
            print(f"[mmsa] {e}; the splits are made again from split seed {seed}", file=sys.stderr)
            ids = None
    if ids is not None:
        by_id = {p.id: p for p in dataset.all_posts()}
        missing = [i for split in ids.values() for i in split if i not in by_id]
        if missing:
            raise DataError(
                f"{splits_file}: {len(missing)} post ids are not in {data_dir} "
                f"(first: {missing[0]}); was the dataset changed?"
            )
        return MultimodalDataset(
            dataset.name,
            dataset.class_names,
            {name: [by_id[i] for i in split] for name, split in ids.items()},
            dataset.notes + [f"splits as saved in {splits_file}"],
        )
    dataset = split_dataset(dataset, seed, test=test_split)
    if holdout_fraction:
        parts = stratified_split(
            dataset.labelled("train"), {"main": 1 - holdout_fraction, "holdout": holdout_fraction}, seed
        )
        which = "holdout" if train_on_holdout else "main"
        dataset = MultimodalDataset(
            dataset.name,
            dataset.class_names,
            {**dataset.splits, "train": parts[which]},
            dataset.notes
            + [
                f"trains on the {'held-out' if train_on_holdout else 'remaining'} "
                f"{len(parts[which])} posts of the training split ({round(100 * holdout_fraction)}% "
                f"held out, seed {seed})"
            ],
        )
    return dataset


def save_splits(path: str, dataset: MultimodalDataset) -> None:
    write_json(path, {name: [p.id for p in posts] for name, posts in dataset.splits.items()})


# ----------------------------------------------------------------------------- lock
class RunLock:
    """`RUN_DIR/.lock`: an exclusive `fcntl.flock` held while a process writes to RUN_DIR.

    The kernel releases the lock when its holder exits, however it exits, so a
    lock left by a killed process is simply free: taking it over is the same
    atomic `flock` call, and two processes racing for it cannot both win. After
    locking, the holder checks that the file it locked is still the one at the
    path (a holder that finished removes it), and tries again if not. The file
    records the holder's pid and host for the message a second writer sees.
    Locks are per host: a run directory on a network file system shared by
    several machines needs its own coordination.
    """

    def __init__(self, run_dir: str, name: str = ".lock"):
        self.path = os.path.join(run_dir, name)
        self.held = False
        self._fd: int | None = None

    def __enter__(self):
        import fcntl

        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(50):
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                try:
                    other = read_json(self.path)
                except (OSError, ValueError):
                    other = {}
                raise RunError(
                    f"{os.path.dirname(self.path)} is in use by process {other.get('pid', '?')} (since "
                    f"{other.get('started', '?')}); wait for it, or choose another --out"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder before us removed the file after we opened it: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(record).encode("utf-8"))
            self._fd = fd
            self.held = True
            return self
        raise RunError(f"could not take the lock {self.path}")

    def __exit__(self, *exc):
        if self.held and self._fd is not None:
            try:
                os.remove(self.path)  # while still locked: a waiting process then sees a new file
            except OSError:
                pass
            os.close(self._fd)  # releases the lock
            self._fd = None
            self.held = False
        return False


def clear_run(run_dir: str) -> None:
    """Remove what a run wrote (`--force`): model, backup, checkpoints, history, metrics, splits."""
    for name in RUN_OUTPUTS:
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            os.remove(path)
    for name in RUN_OUTPUT_DIRS:
        shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    if os.path.isdir(run_dir):
        for name in os.listdir(run_dir):
            if (name.startswith(("confusion_matrix_", "reliability_")) and name.endswith(".png")) or (
                name.startswith("errors_") and name.endswith(".html")
            ):
                os.remove(os.path.join(run_dir, name))


def run_state(run_dir: str) -> str:
    """ "new", "complete" (model.keras and no backup) or "interrupted" (a backup or settings, no model)."""
    if not os.path.isdir(run_dir):
        return "new"
    has_model = os.path.exists(os.path.join(run_dir, MODEL_FILE))
    has_backup = os.path.isdir(os.path.join(run_dir, BACKUP_DIR))
    if has_model and not has_backup:
        return "complete"
    if has_backup or os.path.exists(os.path.join(run_dir, RUN_CONFIG)):
        return "interrupted"
    return "new"


def changed_settings(saved: dict, current: dict) -> list[str]:
    """'key: old → new' for every setting that differs (ignoring those that do not change results)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in IGNORED_FOR_RESUME:
            continue
        if saved.get(key) != current.get(key):
            out.append(f"{key}: {saved.get(key)!r} → {current.get(key)!r}")
    return out


# ----------------------------------------------------------------------------- Run
class Run:
    """A trained (or training) run directory, reloaded once for every command.

    Example:
    >>> run = mmsa_keras.app.runs.Run("runs/cmac")
    >>> metrics = run.evaluate("test")
    >>> probs = run.predict(run.dataset().labelled("test"))
    """

    def __init__(self, run_dir: str):
        self.directory = run_dir
        if not os.path.isdir(run_dir):  # a wrong path or the wrong kind of folder is a usage error (exit 2)
            raise UsageError(f"{run_dir}: no such run directory (train one with `mmsa train ... --out {run_dir}`)")
        path = os.path.join(run_dir, RUN_CONFIG)
        if not os.path.exists(path) and os.path.exists(os.path.join(run_dir, "saved_model.pb")):
            raise UsageError(
                f"{run_dir} is an export, not a training run; `mmsa predict {run_dir} ...` uses an export, "
                "`mmsa evaluate` and `mmsa export` take the run folder it came from"
            )
        if not os.path.exists(path):
            raise UsageError(
                f"{run_dir}: not a run directory (no {RUN_CONFIG}); train one with `mmsa train ... --out {run_dir}`"
            )
        try:
            self.record = read_json(path)
            self.config = TrainConfig.from_dict(self.record["config"])
            self.plan = RunPlan.from_dict(self.record["plan"])
        except (KeyError, ValueError, TypeError) as e:
            raise RunError(
                f"{path}: unreadable ({type(e).__name__}: {e}); it may come from an older "
                "mmsa-keras version: retrain with --force"
            ) from None
        self.class_names = list(self.record["class_names"])
        self._model = None
        self._preprocessor = None
        self._dataset = None

    def holding(self, model, preprocessor, dataset) -> Run:
        """This run with its parts already in memory (the training process: nothing is read back)."""
        self._model, self._preprocessor, self._dataset = model, preprocessor, dataset
        return self

    # ------------------------------------------------------------------ parts
    @property
    def model_path(self) -> str:
        return os.path.join(self.directory, MODEL_FILE)

    @property
    def complete(self) -> bool:
        return run_state(self.directory) == "complete"

    def require_model(self) -> None:
        if not os.path.exists(self.model_path):
            raise RunError(
                f"{self.directory}: training has not finished (no {MODEL_FILE}); run the same "
                "`mmsa train` command again to resume it"
            )

    @property
    def model(self):
        if self._model is None:
            self.require_model()
            self._model = load_model(self.model_path)
        return self._model

    @property
    def preprocessor(self):
        if self._preprocessor is None:
            self._preprocessor = Preprocessor.load(self.directory)
        return self._preprocessor

    def dataset(self, verbose: bool = True) -> MultimodalDataset:
        """The run's own dataset with its saved splits."""
        if self._dataset is None:
            data = self.plan.data
            self._dataset = load_split_data(
                data.data_dir,
                data.format,
                data.split_seed,
                splits_file=os.path.join(self.directory, "splits.json"),
                format_options=data.reader_options,
                verbose=verbose,
            )
        return self._dataset

    @property
    def input_names(self) -> list[str]:
        return list(self.model.input)

    # ------------------------------------------------------------------ use
    def inputs(self, posts, batch_size: int = 64, with_labels: bool = True):
        """A one-pass `tf.data.Dataset` of the model's raw inputs for `posts`."""
        return self.preprocessor.make_dataset(posts, batch_size, with_labels=with_labels, input_names=self.input_names)

    def predict(self, posts, batch_size: int = 64, verbose: int = 0):
        """`(y_true, y_prob)` over labelled `posts` (raw inputs through the saved model)."""
        return predict_dataset(self.model, self.inputs(posts, batch_size), verbose=verbose)

    def evaluate(
        self,
        split: str = "test",
        verbose: int = 1,
        predictions=None,
        dataset=None,
        extra: dict | None = None,
        errors: int = 0,
    ) -> dict:
        """Metrics of the run's model on one of its saved splits (written to metrics.json)."""
        dataset = dataset or self.dataset(verbose=bool(verbose))
        if split == "all":  # every labelled post of the run's data, whatever its split
            posts = [p for name in sorted(dataset.splits) for p in dataset.labelled(name)]
        elif split not in dataset.splits or not dataset.labelled(split):
            raise DataError(
                f"{self.directory}: split {split!r} has no labelled posts (splits: "
                f"{', '.join(sorted(dataset.splits))}, or all)"
            )
        else:
            posts = dataset.labelled(split)
        if not posts:
            raise DataError(f"{self.directory}: no labelled posts")
        if predictions is None:
            if verbose:
                print(f"Evaluating {self.plan.model} on the {split} split ({len(posts)} posts)", flush=True)
            predictions = self.predict(posts, verbose=verbose)
        metrics = evaluate_posts(
            self.directory,
            self.plan.model,
            split,
            predictions,
            self.class_names,
            verbose=verbose,
            write=True,
            extra={**self.calibration(predictions, split), **(extra or {})},
        )
        if errors:
            self.error_gallery(self.directory, split, posts, predictions, errors, metrics, verbose)
        return metrics

    def error_gallery(self, directory, name, posts, predictions, n, metrics, verbose) -> str:
        """`DIRECTORY/errors_<name>.html`: the `n` most confident mistakes (`mmsa_keras.app.gallery`)."""
        title = f"{self.plan.model}: the most confident mistakes on {name} ({len(posts)} posts)"
        path = os.path.join(directory, f"errors_{name}.html")
        out = write_error_gallery(
            path, posts, *predictions, self.class_names, n, title, metrics.get("confusion_matrix_png")
        )
        if verbose:
            print(f"error gallery: {out['shown']} of {out['errors']} mistakes in {path}", flush=True)
        return path

    def calibration(self, predictions=None, split: str | None = None, directory: str | None = None) -> dict:
        """The run's temperature (`calibration.json`, or nothing when not calibrated) and, given the saved
        model's `(y_true, y_prob)`, the figures before calibration and the reliability diagram: the raw
        probabilities are recovered exactly, since p_raw is proportional to p_calibrated ** T."""
        path = os.path.join(self.directory, "calibration.json")
        if not os.path.exists(path):
            return {}
        out: dict = {"temperature": float(read_json(path)["temperature"])}
        if predictions is not None and len(predictions[0]):
            y_true, y_prob = predictions
            raw = apply_temperature(y_prob, 1.0 / out["temperature"])
            os.makedirs(directory or self.directory, exist_ok=True)
            png = os.path.join(directory or self.directory, f"reliability_{split}.png")
            title = f"{self.plan.model} on {os.path.basename(os.path.normpath(self.plan.data.data_dir))}, "
            plot_reliability(
                raw, y_prob, y_true, png, title + f"{split} split ({len(y_true)} posts)", out["temperature"]
            )
            out.update(calibration_before=calibration_metrics(raw, y_true), reliability_png=os.path.basename(png))
        return out

    def evaluate_on(
        self, data_dir: str, format: str, split: str = "test", format_options=None, verbose: int = 1, errors: int = 0
    ) -> dict:
        """Metrics on another dataset read with this run's preprocessor (`mmsa evaluate --data-dir`)."""
        other, _, _ = read_dataset(data_dir, format, format_options, verbose=bool(verbose))
        if split == "all":
            posts = [p for p in other.all_posts() if p.label is not None]
        elif split in other.splits:
            posts = other.labelled(split)
        else:
            raise DataError(
                f"{data_dir} has no {split!r} split (it has {', '.join(sorted(other.splits))}); "
                "use --split all to evaluate on every labelled post"
            )
        if not posts:
            raise DataError(f"{data_dir}: no labelled posts in split {split!r}")
        mapping = {}
        for i, name in enumerate(other.class_names):
            if name not in self.class_names:
                raise DataError(
                    f"{data_dir} has the class {name!r}, which the run's model does not predict "
                    f"(its classes: {', '.join(self.class_names)})"
                )
            mapping[i] = self.class_names.index(name)

        posts = [copy.copy(p) for p in posts]
        for p in posts:
            p.label = mapping[p.label]
        if verbose:
            print(f"Evaluating {self.plan.model} on {data_dir} ({split}, {len(posts)} posts)", flush=True)
        predictions = self.predict(posts, verbose=verbose)
        name = f"{os.path.basename(os.path.normpath(data_dir))}_{split}"
        metrics = evaluate_posts(
            os.path.join(self.directory, "evaluations"),
            self.plan.model,
            name,
            predictions,
            self.class_names,
            verbose=verbose,
            write=True,
            extra={
                "data_dir": data_dir,
                "format": format,
                "split": split,
                **self.calibration(predictions, name, os.path.join(self.directory, "evaluations")),
            },
        )
        if errors:
            self.error_gallery(
                os.path.join(self.directory, "evaluations"), name, posts, predictions, errors, metrics, verbose
            )
        return metrics
