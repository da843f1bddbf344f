"""Fine-tuning end to end on real posts: time to the first training step, posts/s, peak memory.

The run of issue 13 item 5, compared there with paper 002's PyTorch code on the
same machine: MiniLM-L6 + ResNet-50 (random weights: no ImageNet download
here), 224 px, 64 tokens, batch 16, every layer trainable, on the 300 real
MVSA-Single posts of `../shared/data/mvsa_single_sample`. Each configuration
runs in a fresh process (`mmsa_keras.app.training.train` with one epoch), which
reports:

  * time to the first training step: from process start (before importing
    TensorFlow) to the end of the first optimiser step, i.e. import, data
    reading, image checks, model build, graph tracing and the step itself;
  * steady-state training posts/s (steps after the second, excluding
    validation);
  * peak resident memory of the process (`ru_maxrss`).

    python benchmarks/finetune_memory.py [--data-dir ../shared/data/mvsa_single_sample]
        [--models ote,native_cat] [--frozen] [--repeats N]

On a shared 2-core machine the time to the first step varies by several
seconds from one process to the next; `--repeats 5` gives the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

CHILD = r"""
import json, os, resource, sys, time
t_start = float(sys.argv[1])
settings = json.loads(sys.argv[2])
from mmsa_keras._quiet import quiet_tensorflow
quiet_tensorflow()
import keras
from mmsa_keras.app.config import TrainConfig
from mmsa_keras.app.training import train

class Clock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []
    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.time())

clock = Clock()
summary = train(TrainConfig(**settings), extra_callbacks=[clock])
batch = settings["batch_size"]
steady = clock.ends[2:]
rate = batch * (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 2 else float("nan")
print("RESULT" + json.dumps({
    "first_step_s": clock.ends[0] - t_start,
    "posts_per_s": rate,
    "steps": len(clock.ends),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(settings: dict) -> dict:
    t_start = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, repr(t_start), json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(proc.stdout[-2000:] + proc.stderr[-4000:])
    return json.loads(line[len("RESULT") :])


def summarise(values: list[float], fmt: str) -> str:
    """One run: its value; several: the median and the range, e.g. `15.6 (14.9–17.3)`."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    low, high = min(values), max(values)
    return f"{fmt.format(statistics.median(values))} ({fmt.format(low)}–{fmt.format(high)})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mvsa_single_sample")
    )
    parser.add_argument("--models", default="ote,native_cat")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frozen", action="store_true", help="also measure each model with frozen encoders")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="fresh processes per configuration; the table gives the median (and the range) of each figure",
    )
    args = parser.parse_args(argv)

    from benchmarks.common import print_table

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        variants = [("all layers trainable", "all")] + ([("encoders frozen", "0")] if args.frozen else [])
        configs = {}
        for model in args.models.split(","):
            for label, unfreeze in variants:
                configs[f"{model}, {label}"] = dict(
                    model=model,
                    data_dir=args.data_dir,
                    format="mvsa",
                    out=os.path.join(tmp, f"{model}_{unfreeze}"),
                    text_encoder="minilm_l6",
                    image_encoder="resnet50",
                    image_weights="none",
                    image_size=224,
                    sequence_length=64,
                    batch_size=args.batch_size,
                    unfreeze=unfreeze,
                    epochs=1,
                    verbose=0,
                )
        # repeats interleaved (every configuration once, then again), so a machine that drifts
        # during the benchmark weighs on every configuration alike; a fresh run directory each
        # time (a complete one would only be evaluated)
        results = {name: [] for name in configs}
        for i in range(max(1, args.repeats)):
            for name, settings in configs.items():
                store = os.path.join(tmp, f"store_{i}")  # per repeat: its first frozen run extracts, as in one run
                results[name].append(measure({**settings, "out": f"{settings['out']}_{i}", "feature_store": store}))
                print(name, i, json.dumps(results[name][-1]), flush=True)
        for name, runs in results.items():
            rows.append(
                [
                    name,
                    summarise([r["first_step_s"] for r in runs], "{:.1f}"),
                    summarise([r["posts_per_s"] for r in runs if r["posts_per_s"] == r["posts_per_s"]], "{:.1f}"),
                    summarise([r["peak_rss_mib"] / 1024 for r in runs], "{:.2f}"),
                ]
            )
    print(
        f"\nMiniLM-L6 + ResNet-50 (random weights), 224 px, 64 tokens, batch {args.batch_size}, "
        f"{os.path.basename(os.path.normpath(args.data_dir))}, one epoch, {os.cpu_count()} CPU cores"
        + (f", median (range) of {args.repeats} processes each" if args.repeats > 1 else "")
        + "\n"
    )
    print_table(["run", "to first step (s)", "train posts/s", "peak RSS (GB)"], rows)


if __name__ == "__main__":
    main()
