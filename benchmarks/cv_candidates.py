"""Compare recipe candidates on their cross-validation folds, and the TF-IDF blends of each, out of fold.

    python benchmarks/cv_candidates.py CV_DIR [CV_DIR ...] --blend 0.25,0.4,0.5 --out cv_candidates.md

Each CV_DIR is the output of one `mmsa cv` run (the same `--data-dir`,
`--folds` and split seed for all, so every post falls in the same fold). For
each candidate this prints, as `mmsa cv` does: the mean ± std over folds of
accuracy and macro F1, and the paired out-of-fold difference to TF-IDF +
LinearSVC (every post predicted once, by the fold that did not train on it)
with its paired bootstrap 95% interval and the exact McNemar p-value.

`--blend W,...` adds, for each candidate, `(1 - W) * model + W * TF-IDF-LR`:
the `TfidfClassifier` of `mmsa train --tfidf-weight` (logistic regression
on TF-IDF n-grams, `mmsa_keras.models.tfidf_ensemble`), fitted on each fold's
training posts, blended with the candidate's out-of-fold probabilities. It
shows which weight to give the recipe without training it again; the recipe so
chosen is then cross-validated as it ships (`mmsa cv --recipe ...`), which
is the figure to report: choosing W here looks at these same out-of-fold posts.

Probabilities come from `CV_DIR/oof.json` (written by `mmsa cv`); a CV run made
before that file existed is predicted again from its fold runs.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_oof(cv_dir: str) -> dict:
    """`oof.json` of a CV folder, made from its fold runs when missing (seed 0)."""
    from mmsa_keras.app.jsonfiles import read_json, write_json
    from mmsa_keras.app.runs import Run, read_dataset

    path = os.path.join(cv_dir, "oof.json")
    if os.path.exists(path):
        return read_json(path)
    summary = read_json(os.path.join(cv_dir, "cv.json"))
    dataset, _, _ = read_dataset(summary["data_dir"], summary["format"], {}, verbose=False)
    by_id = {p.id: p for p in dataset.all_posts()}
    from mmsa_keras.app.cv import tfidf_on_fold

    probs, fold_of, y_true, svm = {}, {}, {}, {}
    for k in range(summary["folds"]):
        fold = read_json(os.path.join(cv_dir, f"fold-{k}.json"))
        ids = fold["test"]
        part = {name: [by_id[i] for i in members] for name, members in fold.items()}
        svm.update(
            zip(ids, tfidf_on_fold(part, list(dataset.class_names), summary["split_seed"])["predictions"]["y_pred"])
        )
        run = Run(os.path.join(cv_dir, f"fold-{k}", "seed-0"))
        print(f"[oof] predicting fold {k} ({len(ids)} posts) with {run.directory}", flush=True)
        labels, p = run.predict([by_id[i] for i in ids])
        for i, t, row in zip(ids, labels, p):
            probs[i], fold_of[i], y_true[i] = row.tolist(), k, int(t)
    ids = sorted(probs)
    out = {
        "class_names": list(dataset.class_names),
        "ids": ids,
        "y_true": [y_true[i] for i in ids],
        "tfidf_svm": [svm[i] for i in ids],
        "model": {"0": [probs[i] for i in ids]},
        "fold": fold_of,
    }
    write_json(path, out)
    return out


def tfidf_lr_oof(cv_dir: str, oof: dict, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of the TF-IDF logistic regression, fitted on each fold's training posts."""
    from mmsa_keras.app.jsonfiles import read_json
    from mmsa_keras.app.runs import read_dataset
    from mmsa_keras.models.tfidf_ensemble import fit_tfidf_classifier

    summary = read_json(os.path.join(cv_dir, "cv.json"))
    dataset, _, _ = read_dataset(summary["data_dir"], summary["format"], {}, verbose=False)
    by_id = {p.id: p for p in dataset.all_posts()}
    row = {pid: r for r, pid in enumerate(oof["ids"])}
    out = np.zeros((len(oof["ids"]), len(oof["class_names"])), np.float32)
    for k in range(summary["folds"]):
        fold = read_json(os.path.join(cv_dir, f"fold-{k}.json"))
        train = [by_id[i] for i in fold["train"]]
        layer, info = fit_tfidf_classifier(
            [p.text or "" for p in train], [p.label for p in train], len(oof["class_names"]), seed=seed
        )
        print(f"[tfidf-lr] fold {k}: C={info['C']:g}, {info['vocabulary']} n-grams", flush=True)
        texts = [by_id[i].text or "" for i in fold["test"]]
        out[[row[i] for i in fold["test"]]] = layer(np.array(texts, dtype=object)).numpy()
    return out


def candidate_row(name: str, probs: np.ndarray, oof: dict, base_pred: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    from mmsa_keras.uncertainty import mcnemar_exact, paired_bootstrap

    y = np.asarray(oof["y_true"])
    pred = probs.argmax(-1)
    folds = np.array([oof["fold"][i] for i in oof["ids"]])
    per_fold = [
        (accuracy_score(y[folds == k], pred[folds == k]), f1_score(y[folds == k], pred[folds == k], average="macro"))
        for k in sorted(set(folds))
    ]
    paired = paired_bootstrap(y, pred, base_pred, len(oof["class_names"]))
    return {
        "name": name,
        "acc": (np.mean([a for a, _ in per_fold]), np.std([a for a, _ in per_fold])),
        "macro": (np.mean([m for _, m in per_fold]), np.std([m for _, m in per_fold])),
        "paired": paired,
        "mcnemar": mcnemar_exact(y, pred, base_pred)["p_value"],
        "n": len(y),
    }


def format_rows(rows: list[dict]) -> str:
    lines = [
        "| candidate | n | acc, mean ± std over folds | macro F1, mean ± std | Δ acc vs TF-IDF-SVM [95%] "
        "| Δ macro F1 vs TF-IDF-SVM [95%] | McNemar p |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cells = []
        for m in ("accuracy", "macro_f1"):
            p = r["paired"][m]
            lo, hi = p["interval"]
            cells.append(f"{100 * p['difference']:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]")
        lines.append(
            f"| {r['name']} | {r['n']} | {100 * r['acc'][0]:.2f} ± {100 * r['acc'][1]:.2f} "
            f"| {100 * r['macro'][0]:.2f} ± {100 * r['macro'][1]:.2f} | {cells[0]} | {cells[1]} | {r['mcnemar']:.3g} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cv_dirs", nargs="+")
    parser.add_argument("--blend", default="", help="TF-IDF weights to try, e.g. 0.25,0.4,0.5")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    from mmsa_keras.app.jsonfiles import read_json

    weights = [float(w) for w in args.blend.split(",") if w.strip()]
    rows, reference = [], None
    for cv_dir in args.cv_dirs:
        oof = load_oof(cv_dir)
        base = read_json(os.path.join(cv_dir, "cv.json"))
        base_pred = np.asarray(oof["tfidf_svm"])
        if reference is None:
            reference = oof["ids"]
        elif oof["ids"] != reference:
            raise SystemExit(f"{cv_dir}: other posts than {args.cv_dirs[0]}; use the same data and folds")
        name = base.get("recipe") and f"recipe {base['recipe']} ({base['model']})" or f"model {base['model']}"
        name += f" [{os.path.basename(os.path.normpath(cv_dir))}]"
        model = np.asarray(oof["model"]["0"], np.float32)
        rows.append(candidate_row(name, model, oof, base_pred))
        if weights:
            lr = tfidf_lr_oof(cv_dir, oof)
            if len(rows) == 1:
                rows.append(candidate_row("TF-IDF logistic regression alone", lr, oof, base_pred))
            for w in weights:
                rows.append(candidate_row(f"{name} + {w:g} x TF-IDF-LR", (1 - w) * model + w * lr, oof, base_pred))
        print(format_rows(rows), flush=True)
    table = format_rows(rows)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
