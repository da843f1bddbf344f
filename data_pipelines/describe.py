"""`mmsa datasets describe` / `validate`: what a dataset folder holds, and whether it can train."""

from __future__ import annotations

from data_pipelines.datasets import load_dataset
from data_pipelines.images import scan_images
from data_pipelines.paths import dataset_root
from data_pipelines.post import MultimodalDataset
from data_pipelines.report import KINDS, DataReport
from data_pipelines.splits import split_dataset


def describe(path: str, format: str, check_images: bool = True, verbose: bool = True, **options) -> dict:
    """Read a dataset and return its description as one JSON-ready dict.

    `total` is the number of labelled posts, `counts` maps each class to its
    labelled posts over all splits, `splits` has the per-split figures, and
    `problems` counts every skipped or repaired input by kind.
    """
    report = DataReport(max_messages=5 if verbose else 0)
    dataset = load_dataset(path, format, report=report, **options)
    undecodable = 0
    if check_images:
        with dataset_root(path, bool(options.get("allow_outside_paths")), extra=(options.get("image_dir"),)):
            undecodable = scan_images(dataset.all_posts(), report, verbose=verbose)
    out = dataset.summary()
    out.update(
        {
            "path": path,
            "format": format,
            "options": options,
            "text_only": not any(p.has_image or p.meta.get("dropped_image") for p in dataset.all_posts()),
            "undecodable_images": undecodable,
            "encoding_fallbacks": report.count("encoding_fallback"),
            "encodings": _encodings(report),
            "dropped_rows": sum(
                report.count(k)
                for k in (
                    "bad_row",
                    "unclosed_quote",
                    "oversized_field",
                    "unknown_label",
                    "duplicate_id",
                    "dropped_row",
                    "no_label",
                    "outside_path",
                )
            ),
            "problems": report.counts(),
            "problem_examples": {k: v[:3] for k, v in report.events.items() if v},
        }
    )
    return out


def _encodings(report: DataReport) -> dict[str, int]:
    """Captions per fall-back encoding ("decoded as gb18030" → {"gb18030": n})."""
    out: dict[str, int] = {}
    for event in report.events.get("encoding_fallback", []):
        name = event["message"].replace("decoded as ", "")
        out[name] = out.get(name, 0) + 1
    return out


def format_description(d: dict) -> str:
    lines = [
        f"{d['name']} ({d['format']}) at {d['path']}",
        f"classes: {', '.join(d['class_names'])}",
        f"labelled posts: {d['total']}" + ("  (text only)" if d["text_only"] else ""),
    ]
    width = max(len(c) for c in d["class_names"])
    header = f"  {'split':12s} {'posts':>6s} " + " ".join(f"{c:>{max(width, 6)}s}" for c in d["class_names"])
    header += f" {'no text':>8s}" + ("" if d["text_only"] else f" {'no image':>8s}")
    lines.append(header)
    for split, s in d["splits"].items():
        row = f"  {split:12s} {s['posts']:6d} " + " ".join(
            f"{s['counts'][c]:>{max(width, 6)}d}" for c in d["class_names"]
        )
        row += f" {s['missing_text']:8d}" + ("" if d["text_only"] else f" {s['missing_image']:8d}")
        lines.append(row)
    lines.append(
        f"  {'total':12s} {sum(s['posts'] for s in d['splits'].values()):6d} "
        + " ".join(f"{d['counts'][c]:>{max(width, 6)}d}" for c in d["class_names"])
    )
    encodings = ", ".join(f"{k} {v}" for k, v in sorted(d.get("encodings", {}).items()))
    lines.append(
        f"undecodable images: {d['undecodable_images']}   encoding fall-backs: "
        f"{d['encoding_fallbacks']}{f' ({encodings})' if encodings else ''}   dropped rows: "
        f"{d['dropped_rows']}"
    )
    if d["problems"]:
        lines.append("problems found (skipped or repaired):")
        for kind, n in sorted(d["problems"].items()):
            if d["text_only"] and kind == "missing_image":
                continue
            ex = d["problem_examples"][kind][0]
            where = ex["file"] + (f":{ex['line']}" if ex.get("line") else "")
            lines.append(f"  {n:6d}  {KINDS.get(kind, kind)}  (e.g. {where})")
    return "\n".join(lines)


def validate(dataset: MultimodalDataset) -> list[str]:
    """Fatal problems that stop training: no labels, an empty split, a class absent from train."""
    problems = []
    if not any(p.label is not None for p in dataset.all_posts()):
        return ["no labelled posts"]
    split = split_dataset(dataset, seed=0)
    for name in ("train", "validation", "test"):
        if not split.labelled(name):
            problems.append(f"split {name!r} has no labelled posts")
    present = {name for name, n in split.class_counts().items() if n}
    in_train = {name for name, n in split.class_counts("train").items() if n} if split.splits.get("train") else set()
    for name in sorted(present - in_train):
        problems.append(f"class {name!r} has labelled posts but none in the train split")
    return problems
