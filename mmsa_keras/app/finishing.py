"""Finishing a run: the trained network's predictions, the TF-IDF blend and the temperature on top, the
model saved in the background while the run is evaluated, and what `train()` returns (`TrainResult`)."""

from __future__ import annotations

import dataclasses
import os
import threading

from data_pipelines.features import StoredFeatures, feature_stream
from mmsa_keras.app import runs
from mmsa_keras.app.evaluation import plot_history, predict_dataset
from mmsa_keras.app.jsonfiles import write_json
from mmsa_keras.app.plan import RunPlan
from mmsa_keras.calibration import apply_temperature, fit_temperature, with_temperature
from mmsa_keras.custom_objects import fast_keras_saving
from mmsa_keras.models.tfidf_ensemble import fit_tfidf_classifier, with_tfidf


@dataclasses.dataclass
class TrainResult:
    """What `train()` returns: the run folder, its resolved plan and how the trained model scored."""

    run_dir: str
    plan: RunPlan
    #: False when the folder already held this trained model (it was evaluated, not retrained)
    trained: bool
    #: the test split's metrics (the validation split's when the run has no test split)
    metrics: dict | None = None
    #: every evaluated split's metrics, by split name
    all_metrics: dict = dataclasses.field(default_factory=dict)
    #: what the reader found (counts of bad input by kind)
    data_report: dict | None = None
    #: Keras's history (one list per metric, one value per epoch)
    history: dict = dataclasses.field(default_factory=dict)
    train_seconds: float | None = None
    epochs_run: int = 0
    #: False for a multi-worker run's non-chief worker (which writes no run folder)
    chief: bool = True

    @property
    def feature_mode(self) -> bool:
        return self.plan.feature_mode


def attach_tfidf(model, plan: RunPlan, train_posts, num_classes: int, run_dir: str, chief: bool, verbose: bool):
    """The trained `model` ensembled with a TF-IDF classifier fitted on its training captions
    (`mmsa_keras.models.tfidf_ensemble`); what was fitted goes to `RUN/tfidf.json`."""
    layer, info = fit_tfidf_classifier(
        [p.text or "" for p in train_posts], [p.label for p in train_posts], num_classes, seed=plan.seed
    )
    info["weight"] = plan.tfidf_weight
    if verbose:
        print(
            f"[tfidf] logistic regression on {info['posts']} training captions ({info['vocabulary']} n-grams, "
            f"C={info['C']:g} by 5-fold log-loss); output {1 - plan.tfidf_weight:g} x model + "
            f"{plan.tfidf_weight:g} x TF-IDF",
            flush=True,
        )
    if chief:
        write_json(os.path.join(run_dir, "tfidf.json"), info)
    return with_tfidf(model, layer, plan.tfidf_weight)


class BackgroundSave:
    """`model.save(path)` in a thread, written to a temporary name and renamed when complete.

    Keras' saving state is per thread (`fast_keras_saving` is applied in the
    thread); the model must not change until `join()`, which re-raises any error
    of the save.
    """

    def __init__(self, model, path: str):
        self._error: BaseException | None = None
        stem = os.path.splitext(os.path.basename(path))[0]
        self._tmp = os.path.join(os.path.dirname(path), f".{stem}.{os.getpid()}.keras")  # Keras wants .keras
        self._path = path
        self._thread = threading.Thread(target=self._run, args=(model,), name="mmsa-save", daemon=True)
        self._thread.start()

    def _run(self, model) -> None:
        try:
            fast_keras_saving()
            model.save(self._tmp)
            os.replace(self._tmp, self._path)
        except BaseException as e:  # handed to join()
            self._error = e
            if os.path.exists(self._tmp):
                os.remove(self._tmp)

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def split_predictions(plan, model, head, preprocessor, dataset, stored: StoredFeatures, image_cache) -> dict:
    """`{split: (y_true, y_prob)}` of the trained network on its validation and test posts (feature mode: the
    head on the stored features, the same outputs without an encoder pass)."""
    out = {}
    for split in ("validation", "test"):
        posts = dataset.labelled(split) if split in dataset.splits else []  # --no-test-split: none
        if not posts:
            continue
        if plan.feature_mode:
            ds, _ = feature_stream(posts, stored, 64, input_names=list(head.input))
            out[split] = predict_dataset(head, ds, verbose=0)
        elif not stored.empty:
            ds, _ = preprocessor.stream(
                posts, 64, shuffle=False, input_names=list(head.input), image_cache=image_cache, stored=stored
            )
            out[split] = predict_dataset(head, ds, verbose=0)
        else:
            ds, _ = preprocessor.stream(
                posts, 64, shuffle=False, input_names=list(model.input), image_cache=image_cache
            )
            out[split] = predict_dataset(model, ds, verbose=0)
    return out


def calibrate(model, validation, run_dir: str, verbose: bool):
    """Fit one temperature on the validation predictions; the model that applies it, and the temperature
    (kept in `RUN/calibration.json`; `mmsa_keras.calibration`)."""
    y_true, y_prob = validation
    temperature = fit_temperature(y_prob, y_true)
    write_json(
        os.path.join(run_dir, "calibration.json"),
        {"temperature": temperature, "fitted_on": "validation", "posts": int(len(y_true))},
    )
    if verbose:
        print(f"[calibration] temperature {temperature:.3f}, fitted on {len(y_true)} validation posts", flush=True)
    return with_temperature(model, temperature), temperature


def finish_run(config, plan, run_dir, model, preprocessor, dataset, report, predictions, temperature) -> TrainResult:
    """The end of a chief's run: data report, training curves, validation and test metrics (calibrated, with
    the figures before calibration and a reliability diagram beside them)."""
    verbose = bool(config.verbose)
    report.save(os.path.join(run_dir, "data_report.json"))
    plot_history(
        os.path.join(run_dir, "history.csv"),
        os.path.join(run_dir, "training_curves.png"),
        f"{plan.model} on {dataset.name}: training curves",
    )
    run = runs.Run(run_dir).holding(model, preprocessor, dataset)
    metrics = {}
    for split, (y_true, y_prob) in predictions.items():  # the run's model applies the temperature: so do these
        y_prob = y_prob if temperature is None else apply_temperature(y_prob, temperature)
        metrics[split] = run.evaluate(split, verbose=config.verbose, predictions=(y_true, y_prob), dataset=dataset)
    if verbose:
        print(report.summary())
    return TrainResult(
        run_dir,
        plan,
        trained=True,
        metrics=metrics.get("test", metrics.get("validation")),
        all_metrics=metrics,
        data_report=report.counts(),
    )
