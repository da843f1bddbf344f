"""`mmsa reproduce`, registered with the `mmsa` command through the `mmsa.commands` entry point.

Only argparse definitions live here, so `mmsa --help` stays instant; the runner
is imported when the command runs.
"""

from __future__ import annotations

import difflib
import os
import time

from experiments.tables import list_tables, table_names
from mmsa_keras._quiet import filter_native_stderr, quiet_tensorflow
from mmsa_keras.app.config import parse_key_values
from mmsa_keras.errors import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="reproduce a paper table and report paper vs ours",
        description="Train and evaluate every row of a paper table; write report.md with "
        "the paper's numbers beside ours and each row's departures from the "
        "paper.",
    )
    p.add_argument("table", nargs="?", help="e.g. bert_resnet/table4 (see --list)")
    p.add_argument("--list", action="store_true", help="list the tables")
    p.add_argument("--data-dir", default=None, help="the paper's dataset (default: the embedded synthetic set)")
    p.add_argument("--format", default=None, help="dataset format (default: the table's)")
    p.add_argument("--protocol", choices=("A", "B"), default=None, help="MVSA cleaning protocol (default: A)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per row (default: 1)")
    p.add_argument(
        "--vary-split",
        action="store_true",
        help="draw the split again for every seed where the table draws one (default: one split)",
    )
    p.add_argument("--smoke", action="store_true", help="tiny encoders, one epoch (a quick check)")
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument("--text-encoder", default=None, help="replace the table's text encoder (said in the report)")
    p.add_argument("--image-encoder", default=None, help="replace the table's image encoder (said in the report)")
    p.add_argument(
        "--image-weights",
        default=None,
        help="weights of the table's image encoder: imagenet, none or a file (e.g. converted "
        "AlexNet weights for paper 003; default: the paper's)",
    )
    p.add_argument(
        "--glove",
        default=None,
        help="a GloVe text file: label vectors (paper 003) and word embeddings (paper 004) as the papers used",
    )
    p.add_argument("--variant", default=None, help="dataset variant of a table (joint_fusion: reddit, flickr)")
    p.add_argument("--epochs", type=int, default=None, help="override every row's epochs (said in the report)")
    p.add_argument("--finetune", action="store_true", help="fine-tune the encoders as the paper did")
    p.add_argument("--rows", default=None, help="only these rows (comma-separated names; rows they use run too)")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="reader options over the table's own, e.g. --option label_file=labels.csv (JSON values)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would run (every row's resolved plan, the data, the departures) and stop: no post is "
        "read, nothing trained, no results folder written (on the paper's data it may fetch ImageNet weights "
        "into Keras' cache, to say whether they can be had)",
    )
    p.set_defaults(func=cmd_reproduce)


def reproduce_arguments(args) -> dict:
    """The keyword arguments of `experiments.runner.reproduce` from `mmsa reproduce`'s flags (checked)."""
    if args.table not in table_names():
        close = difflib.get_close_matches(args.table, table_names(), n=1)
        raise UsageError(
            f"unknown table {args.table!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + "; `mmsa reproduce --list` shows them"
        )
    if args.data_dir and not os.path.exists(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir}: no such file or folder")
    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    return dict(
        data_dir=args.data_dir,
        format=args.format,
        protocol=args.protocol,
        seeds=args.seeds,
        smoke=args.smoke,
        out=args.out,
        text_encoder=args.text_encoder,
        image_encoder=args.image_encoder,
        image_weights=args.image_weights,
        glove=args.glove,
        variant=args.variant,
        epochs=args.epochs,
        finetune=args.finetune,
        vary_split=args.vary_split,
        rows=args.rows.split(",") if args.rows else None,
        options=parse_key_values(args.option, "--option"),
        dry_run=args.dry_run,
    )


def cmd_reproduce(args) -> int:
    quiet_tensorflow()  # the table configs import it: its start-up lines stay silent
    filter_native_stderr()
    if args.list or not args.table:
        print(f"{'table':28s} title")
        for name, title in list_tables():
            print(f"{name:28s} {title}")
        return 0
    arguments = reproduce_arguments(args)
    from experiments.runner import reproduce

    start = time.time()
    results = reproduce(args.table, **arguments)
    if args.dry_run:
        print(format_planned(results))
        return 0
    report = os.path.join(args.out, args.table, "report.md")
    print(f"\n{results['data']}")
    for row, entry in results["rows"].items():
        if not entry.get("mean"):
            continue
        first = next(iter(entry["mean"]))
        paper = entry["paper"].get(first)
        spread = f" ± {entry['std'][first]:.2f}" if len(entry["seeds"]) > 1 else ""
        seed0 = entry["seeds"].get(str(results["seeds"][0])) or {}
        interval = (seed0.get("intervals") or {}).get(first)
        ci = f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""  # the first seed's 95% interval
        flag = "  COLLAPSED to the majority class" if entry.get("collapsed") else ""
        print(
            f"  {row:34s} {first} ours {entry['mean'][first]:.2f}{spread}{ci}"
            + (f"   paper {paper}" if paper is not None else "")
            + flag
        )
    print(f"report: {report} ({time.time() - start:.0f} s)")
    return 0


def format_planned(planned: dict) -> str:
    """`mmsa reproduce T --dry-run`: each row's resolved plan (the first seed's), the data and the departures."""
    from mmsa_keras.app.plan import RunPlan

    lines = [f"# {planned['table']}: what would run (seeds {planned['seeds']}); no post read, nothing trained"]
    lines += [planned["data"], planned["encoders"], ""]
    for name, row in planned["rows"].items():
        lines.append(f"## {name}" + ("" if row["kind"] == "keras" else f" ({row['kind']} baseline)"))
        if row["plans"]:
            lines += [f"  {line}" for line in RunPlan.from_dict(row["plans"][0]).describe()]
    lines += ["", "Departures:"] + [f"- {d}" for d in planned["departures"]]
    return "\n".join(lines)
