"""`mmsa cv`: stratified K-fold cross-validation of a recipe or model, with TF-IDF on the same folds.

    mmsa cv --recipe mvsa --data-dir D --format mvsa --folds 3 --out runs/cv_mvsa

Which posts: every labelled post the dataset offers for training (all of them,
or its train and validation splits when it has its own test split, which is
never touched). `StratifiedKFold(K, shuffle=True, random_state=split seed)`
cuts them into K folds; for fold k the other folds are the training posts, of
which a stratified `validation_fraction` (default 10%) is held out for early
stopping and picking the epoch, and fold k is the test posts. Each fold is an
ordinary run (`OUT/fold-k/seed-s/`, trained exactly as `mmsa train` does with
`--split-ids` fixing its posts), so the feature store is shared across folds
and an interrupted CV resumes fold by fold. TF-IDF + LinearSVC is fitted on the
same training posts of each fold (with its own C grid search on them) and
evaluated on the same test posts.

Reported (`OUT/cv.md`, `OUT/cv.json`, and every post's out-of-fold class
probabilities in `OUT/oof.json`): per fold and seed, accuracy / weighted F1
/ macro F1 of the model and of TF-IDF; mean ± std over folds; and the paired
difference model - TF-IDF over all out-of-fold predictions (every post
predicted once per seed, by the fold that did not train on it) with its paired
bootstrap 95% interval and the exact McNemar p-value.
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from data_pipelines.outputs import claim_output_dir
from data_pipelines.splits import stratified_split
from mmsa_keras.app.baseline_runs import make_baseline
from mmsa_keras.app.evaluation import compute_metrics
from mmsa_keras.app.jsonfiles import write_json
from mmsa_keras.app.plan import make_plan
from mmsa_keras.app.runs import read_dataset
from mmsa_keras.app.training import train
from mmsa_keras.errors import DataError, UsageError
from mmsa_keras.uncertainty import format_interval, mcnemar_exact, paired_bootstrap


def fold_splits(posts, folds: int, seed: int, validation_fraction: float) -> list[dict[str, list]]:
    """`[{train, validation, test}]` post lists, one per fold (stratified, seeded)."""
    labels = np.array([p.label for p in posts])
    counts = np.bincount(labels)
    if folds < 2 or counts[counts > 0].min() < folds:
        raise UsageError(f"--folds {folds}: every class needs at least that many posts (smallest: {counts.min()})")
    out = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (rest, test) in enumerate(splitter.split(np.zeros(len(posts)), labels)):
        parts = stratified_split(
            [posts[i] for i in rest], {"train": 1 - validation_fraction, "validation": validation_fraction}, seed + k
        )
        out.append({"train": parts["train"], "validation": parts["validation"], "test": [posts[i] for i in test]})
    return out


def _training_posts(config) -> tuple[list, list[str]]:
    options = make_plan(config).data.reader_options
    dataset, _, _ = read_dataset(config.data_dir, config.format, options)
    if "test" in dataset.splits and any(n != "test" for n in dataset.splits):
        posts = [p for n in sorted(dataset.splits) if n != "test" for p in dataset.labelled(n)]
    else:
        posts = [p for p in dataset.all_posts() if p.label is not None]
    if not posts:
        raise DataError(f"{config.data_dir}: no labelled posts to cross-validate")
    return sorted(posts, key=lambda p: p.id), list(dataset.class_names)


def cross_validate(config, folds: int = 3, seeds: int = 1, validation_fraction: float = 0.1, verbose: bool = True):
    """Run the CV described in the module docstring; `config` is the `TrainConfig` of one fold (its `out` is
    the CV folder). Returns the summary written to `OUT/cv.json`."""
    out_dir = config.out
    claim_output_dir(out_dir, "results")
    posts, class_names = _training_posts(config)
    split_seed = config.split_seed if config.split_seed is not None else config.seed
    parts = fold_splits(posts, folds, split_seed, validation_fraction)
    rows, model_oof, base_oof, model_prob = [], {}, {}, {}
    start = time.time()
    for k, part in enumerate(parts):
        ids_file = os.path.join(out_dir, f"fold-{k}.json")
        write_json(ids_file, {name: [p.id for p in members] for name, members in part.items()})
        base = tfidf_on_fold(part, class_names, split_seed)
        for s in range(seeds):
            if verbose:
                print(
                    f"[cv] fold {k + 1}/{folds}, seed {s}: training on {len(part['train'])} posts, "
                    f"{len(part['validation'])} for stopping, testing on {len(part['test'])}",
                    flush=True,
                )
            run_dir = os.path.join(out_dir, f"fold-{k}", f"seed-{s}")
            summary = train(config.replace(out=run_dir, seed=config.seed + s, split_ids=ids_file))
            m = summary.metrics
            rows.append({"fold": k, "seed": s, "run": run_dir, "model": _three(m), "tfidf": _three(base)})
            ids = [p.id for p in part["test"]]
            for pid, t, yp in zip(ids, m["predictions"]["y_true"], m["predictions"]["y_pred"]):
                model_oof.setdefault(s, {})[pid] = (t, yp)
            for pid, prob in zip(ids, m["predictions"].get("y_prob") or []):
                model_prob.setdefault(s, {})[pid] = prob
        for pid, t, yp in zip(
            (p.id for p in part["test"]), base["predictions"]["y_true"], base["predictions"]["y_pred"]
        ):
            base_oof[pid] = (t, yp)
    paired = {}
    for s, preds in model_oof.items():
        ids = sorted(preds)
        y_true = [preds[i][0] for i in ids]
        if y_true != [base_oof[i][0] for i in ids]:
            raise DataError("internal: the out-of-fold labels of the model and TF-IDF differ")
        a, b = [preds[i][1] for i in ids], [base_oof[i][1] for i in ids]
        paired[str(s)] = paired_bootstrap(y_true, a, b, len(class_names))
        paired[str(s)]["mcnemar"] = mcnemar_exact(y_true, a, b)
    ids = sorted(base_oof)
    write_json(  # every post's out-of-fold probabilities: ensembles and stacking are chosen from these
        os.path.join(out_dir, "oof.json"),
        {
            "class_names": class_names,
            "ids": ids,
            "y_true": [base_oof[i][0] for i in ids],
            "tfidf_svm": [base_oof[i][1] for i in ids],
            "model": {str(s): [probs.get(i) for i in ids] for s, probs in model_prob.items()},
            "fold": {p.id: k for k, part in enumerate(parts) for p in part["test"]},
        },
    )
    summary = {
        "data_dir": config.data_dir,
        "format": config.format,
        "model": config.model,
        "recipe": config.recipe,
        "folds": folds,
        "seeds": seeds,
        "split_seed": split_seed,
        "validation_fraction": validation_fraction,
        "posts": len(posts),
        "rows": rows,
        "mean": {who: _mean_std([r[who] for r in rows]) for who in ("model", "tfidf")},
        "paired_out_of_fold": paired,
        "wall_seconds": time.time() - start,
    }
    write_json(os.path.join(out_dir, "cv.json"), summary)
    with open(os.path.join(out_dir, "cv.md"), "w", encoding="utf-8") as f:
        f.write(format_cv(summary) + "\n")
    return summary


def tfidf_on_fold(part: dict, class_names: list[str], seed: int) -> dict:
    """TF-IDF + LinearSVC fitted on the fold's training posts (its C chosen by its own grid search on them)
    and evaluated on every test post; a post without a caption gets the training posts' majority class."""
    model = make_baseline("tfidf-svm", seed)
    model.fit([p for p in part["train"] if p.has_text])
    test = part["test"]
    probs = np.zeros((len(test), len(class_names)), np.float32)
    majority = int(np.bincount([p.label for p in part["train"]], minlength=len(class_names)).argmax())
    probs[:, majority] = 1.0
    with_text = [i for i, p in enumerate(test) if p.has_text]
    if with_text:
        probs[with_text] = model.predict_proba([test[i] for i in with_text], len(class_names))
    return compute_metrics([p.label for p in test], probs, class_names)


def _three(m: dict) -> dict:
    return {
        "accuracy": m["accuracy"],
        "weighted_f1": m["weighted"]["f1"],
        "macro_f1": m["macro"]["f1"],
        "intervals": {k: m["intervals"][k] for k in ("accuracy", "weighted_f1", "macro_f1")},
        "n": m["num_examples"],
    }


def _mean_std(values: list[dict]) -> dict:
    keys = ("accuracy", "weighted_f1", "macro_f1")
    return {k: [float(np.mean([v[k] for v in values])), float(np.std([v[k] for v in values]))] for k in keys}


def format_cv(summary: dict) -> str:
    what = f"recipe {summary['recipe']}" if summary.get("recipe") else f"model {summary['model']}"
    lines = [
        f"# {summary['folds']}-fold cross-validation of the {what} on {summary['data_dir']}",
        "",
        f"{summary['posts']} posts, stratified folds (split seed {summary['split_seed']}); "
        f"{100 * summary['validation_fraction']:.0f}% of each fold's training posts held out for stopping; "
        f"{summary['seeds']} seed(s); {summary['wall_seconds'] / 60:.1f} minutes.",
        "",
        "Per fold: each figure with its 95% bootstrap interval over the fold's test posts (n).",
        "",
        "| fold | seed | n | model acc | model weighted F1 | model macro F1 | TF-IDF acc | TF-IDF weighted F1 "
        "| TF-IDF macro F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    keys = ("accuracy", "weighted_f1", "macro_f1")
    for r in summary["rows"]:
        cells = [
            format_interval(r[who][k], r[who]["intervals"][k], digits=1) for who in ("model", "tfidf") for k in keys
        ]
        lines.append(f"| {r['fold']} | {r['seed']} | {r['model']['n']} | {' | '.join(cells)} |")
    cells = []
    for who in ("model", "tfidf"):
        cells += [f"{100 * mu:.2f} ± {100 * sd:.2f}" for mu, sd in summary["mean"][who].values()]
    lines.append(f"| mean ± std over folds | | {summary['posts']} | {' | '.join(cells)} |")
    lines += [
        "",
        "Model − TF-IDF over all out-of-fold predictions (every post once per seed; percentage points, "
        "paired bootstrap 95% interval, exact McNemar test):",
        "",
        "| seed | Δ accuracy | 95% interval | Δ weighted F1 | 95% interval | Δ macro F1 | 95% interval | McNemar p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s, p in summary["paired_out_of_fold"].items():
        cells = []
        for m in ("accuracy", "weighted_f1", "macro_f1"):
            lo, hi = p[m]["interval"]
            cells.append(f"{100 * p[m]['difference']:+.2f} | [{100 * lo:+.2f}, {100 * hi:+.2f}]")
        lines.append(f"| {s} | {' | '.join(cells)} | {p['mcnemar']['p_value']:.3g} |")
    return "\n".join(lines)
