"""Sweep of paper 003's Table 8 heads over frozen encoders: feature store vs end to end.

Trains the ten combined heads of Table 8 (feature concatenation + linear, the
eight GL1/GL2 rows, and the Table 9 embedding-space model) over frozen
ResNet-50 (random weights: no download here) and frozen MiniLM on the
embedded synthetic set, twice, each in its own process:

  * feature mode: the encoders run once into the feature store, then every
    head trains on the stored outputs;
  * end to end: every head trains with the frozen encoders recomputed at
    every step (what a model with frozen encoders costs without the store).

Prints the wall time of each sweep, their ratio, and each process's peak
resident memory.

    python benchmarks/feature_sweep.py [--posts 400] [--image-size 64] [--epochs 3] [--batch-size 32]

The defaults keep the run short (about 6 minutes on 2 cores); Table 8's own
schedule for its combined rows is `--epochs 10 --batch-size 64` (about 11).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GATED_ROWS = [
    ("GL1", "GL1", "retained", None),
    ("GL1", "GL1", "retained", 0.3),
    ("GL2", "GL2", "retained", None),
    ("GL2", "GL2", "retained", 0.3),
    ("GL1", "GL2", "compressed", None),
    ("GL2", "GL2", "compressed", None),
    ("GL2", "GL2", "compressed", 0.3),
    ("GL1", "GL2", "compressed", 0.3),
]
HEADS = (
    [("mvso_concat_linear", {})]
    + [("mvso_gated", {"text_gate": t, "image_gate": i, "image_shape": s, "dropout": d}) for t, i, s, d in GATED_ROWS]
    + [("mvso_gated_embedding", {"loss": "cosine"})]
)


def sweep(mode, data_dir, work, args):
    from mmsa_keras.app.training import TrainConfig, train

    accuracies = []
    start = time.perf_counter()
    for n, (model, overrides) in enumerate(HEADS):
        summary = train(
            TrainConfig(
                model=model,
                data_dir=data_dir,
                out=os.path.join(work, f"{mode}_{n}"),
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=0,
                image_size=args.image_size,
                text_encoder="minilm_l6",
                image_encoder="resnet50",
                image_weights="none",
                augment=False,
                patience=args.epochs,
                verbose=0,
                feature_mode="on" if mode == "feature" else "off",
                feature_store=os.path.join(work, "store"),
                model_overrides=overrides,
            )
        )
        accuracies.append(summary.all_metrics["validation"]["accuracy"])
    return {
        "seconds": time.perf_counter() - start,
        "val_accuracy": accuracies,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--mode", choices=("feature", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        print("RESULT" + json.dumps(sweep(args.mode, args.data_dir, args.work, args)), flush=True)
        return
    from benchmarks.common import print_table
    from data_pipelines.datasets.synthetic import make_synthetic

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic(data, posts=args.posts, image_size=args.image_size, seed=0)
        for mode in ("feature", "raw"):
            cmd = [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--data-dir",
                data,
                "--work",
                tmp,
                "--posts",
                str(args.posts),
                "--image-size",
                str(args.image_size),
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
            if line is None:
                raise SystemExit(f"the {mode} sweep failed:\n{out.stderr[-3000:]}")
            results[mode] = json.loads(line[len("RESULT") :])
    f, r = results["feature"], results["raw"]
    print(
        f"\n{len(HEADS)} heads of paper 003 Table 8/9 over frozen ResNet-50 ({args.image_size}px, random "
        f"weights) + MiniLM-L6; {args.posts} synthetic posts, {args.epochs} epochs each at batch {args.batch_size}, "
        f"{os.cpu_count()} CPU cores\n"
    )
    print_table(
        ["sweep", "wall time (s)", "peak RSS (MiB)", "mean val accuracy"],
        [
            [
                "feature store (encoders once)",
                f"{f['seconds']:.0f}",
                f"{f['peak_rss_mib']:.0f}",
                f"{sum(f['val_accuracy']) / len(HEADS):.3f}",
            ],
            [
                "end to end (encoders every step)",
                f"{r['seconds']:.0f}",
                f"{r['peak_rss_mib']:.0f}",
                f"{sum(r['val_accuracy']) / len(HEADS):.3f}",
            ],
            ["speed-up", f"{r['seconds'] / f['seconds']:.1f}x", "", ""],
        ],
    )


if __name__ == "__main__":
    main()
