"""The GPU check: mixed-precision speed, numerics, export parity and serving, in one short command.

    python benchmarks/gpu_check.py               # on a GPU machine: at most ~8 minutes
    python benchmarks/gpu_check.py --quick       # ~3 minutes: batch 16 only, fewer steps
    python benchmarks/gpu_check.py --cpu-dry-run # every step on CPU at tiny sizes (a test in the default suite)

Prints a table and writes `gpu_check.json` (`--out`):

1. the environment: GPU name and memory, TensorFlow / Keras versions, what `--precision auto` resolves to;
2. fine-tuning speed, float32 against `mixed_float16` (and `mixed_bfloat16` where the GPU has bfloat16,
   compute capability 8.0 or newer): the `mvsa` recipe's model (MiniLM-L6 + small CNN, 64 px) and a
   paper-scale one (MiniLM-L6 + ResNet-50 at 224 px, every layer trainable, random weights: no download),
   batch 16 and 64, on a synthetic set made on the spot; time to the first step, steady posts/s (steps
   after the first two), peak GPU memory (`tf.config.experimental.get_memory_info`), speed-up over float32;
3. numerics: the recipe's model trained a few hundred steps in each precision: the loss falls, no NaN or
   Inf, class scores are float32 under mixed precision, the optimizer is a `LossScaleOptimizer`;
4. export parity: each of those runs exported, its `serve` signature against Keras' own probabilities on
   the same posts (bounds: 1e-5 float32, 1e-3 mixed);
5. serving on the GPU: one-post p50 latency and batched (64) posts/s of the float32 export.

Every number comes from `mmsa_keras`' own training and export code (`train()`, `export_run()`,
`ExportedModel`), so it measures what users run. The check ends with `ALL CHECKS PASSED` or the list
of failed checks (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mmsa_keras._quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # TensorFlow's start-up lines stay out of the report
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmsa_keras.app.recipes import recipe_settings  # noqa: E402

#: the `mvsa` recipe's model and optimiser (its own settings; the check sets epochs, batch and stopping)
RECIPE_MODEL = {
    k: v
    for k, v in recipe_settings("mvsa").items()
    if k not in ("epochs", "batch_size", "class_weight", "monitor", "patience", "tfidf_weight", "test_split")
}
#: paper scale: an image + text model (paper 002's CMAC) with the recipe's text encoder and optimiser
PAPER_SCALE = {**RECIPE_MODEL, "model": "cmac", "image_encoder": "resnet50", "image_weights": "none", "image_size": 224}
#: --cpu-dry-run: the same code paths with tiny encoders and sizes
_TINY_TEXT = {"text_encoder": "small_transformer", "sequence_length": 16, "layer_decay": None}
DRY = {**_TINY_TEXT, "image_size": 32, "unfreeze": "0", "encoder_learning_rate": None}
DRY_PAPER = {**_TINY_TEXT, "image_encoder": "resnet50", "image_size": 32}


class StepTimer(keras.callbacks.Callback):
    """Wall time of every training step (the first includes tracing)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0
        self.optimizer = ""

    def on_train_begin(self, logs=None):
        self.optimizer = type(self.model.optimizer).__name__

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def environment(gpu: bool) -> dict:
    from mmsa_keras.app.fitting import resolve_precision

    env = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "precision_auto": resolve_precision("auto"),
        "gpus": [],
    }
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        env["gpus"].append(
            {"name": details.get("device_name", device.name), "compute": details.get("compute_capability")}
        )
    if gpu and env["gpus"]:
        try:
            import subprocess

            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"], capture_output=True, text=True
            )
            env["nvidia_smi"] = out.stdout.strip()
        except OSError:
            pass
    return env


def precisions(gpu: bool, env: dict) -> list[str]:
    out = ["float32", "mixed_float16"]
    compute = (env["gpus"][0].get("compute") if env["gpus"] else None) or (0, 0)
    if (gpu and tuple(compute) >= (8, 0)) or not gpu:
        out.append("mixed_bfloat16")
    return out


def peak_memory_mb(gpu: bool) -> float | None:
    if not gpu:
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def reset_memory(gpu: bool) -> None:
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")


def run_config(data: str, out: str, settings: dict, precision: str, batch: int, epochs: int, seed: int = 0):
    """Train with `mmsa_keras.app.training.train` (quiet); returns (summary, the StepTimer)."""
    from mmsa_keras.app.config import TrainConfig
    from mmsa_keras.app.training import train

    timer = StepTimer()
    config = TrainConfig(
        data_dir=data,
        out=out,
        format="mvsa",
        precision=precision,
        batch_size=batch,
        epochs=epochs,
        seed=seed,
        early_stopping=False,
        verbose=0,
        **settings,
    )
    summary = train(config, extra_callbacks=[timer])
    return summary, timer


def speed(args, gpu, data, tmp, precisions_, report, failures):
    configs = [("recipe", RECIPE_MODEL if not args.cpu_dry_run else {**RECIPE_MODEL, **DRY})]
    configs.append(("paper_scale", PAPER_SCALE if not args.cpu_dry_run else {**PAPER_SCALE, **DRY_PAPER}))
    batches = [16] if (args.quick or args.cpu_dry_run) else [16, 64]
    rows = []
    for name, settings in configs:
        for batch in batches:
            base = None
            # the dry run checks the code path of every precision on the small model, two on the big one
            for precision in precisions_[:2] if (args.cpu_dry_run and name == "paper_scale") else precisions_:
                reset_memory(gpu)
                out = os.path.join(tmp, f"speed-{name}-{batch}-{precision}")
                try:
                    _, timer = run_config(data, out, settings, precision, batch, epochs=1)
                    times = timer.times
                except Exception as e:  # noqa: BLE001 - one failed configuration is a reported failure
                    failures.append(f"speed {name} batch {batch} {precision}: {type(e).__name__}: {e}")
                    continue
                steady = times[2:] or times[1:] or times
                posts_s = batch / float(np.median(steady))
                base = posts_s if precision == "float32" else base
                rows.append(
                    {
                        "model": name,
                        "batch": batch,
                        "precision": precision,
                        "first_step_s": round(times[0], 2),
                        "posts_per_s": round(posts_s, 1),
                        "speedup": None if base is None else round(posts_s / base, 2),
                        "peak_gpu_mb": peak_memory_mb(gpu),
                        "steps": len(times),
                    }
                )
    report["speed"] = rows


def numerics_and_parity(args, gpu, data, tmp, precisions_, report, failures):
    from mmsa_keras.app.export import ExportedModel, export_run
    from mmsa_keras.app.runs import Run
    from mmsa_keras.models.base import class_scores

    settings = RECIPE_MODEL if not args.cpu_dry_run else {**RECIPE_MODEL, **DRY}
    epochs = 1 if args.cpu_dry_run else (4 if args.quick else 8)
    rows = []
    for precision in precisions_[:2] if args.cpu_dry_run else precisions_:
        run_dir = os.path.join(tmp, f"numerics-{precision}")
        try:
            summary, timer = run_config(data, run_dir, settings, precision, 16, epochs=epochs)
            times = timer.times
        except Exception as e:  # noqa: BLE001
            failures.append(f"numerics {precision}: {type(e).__name__}: {e}")
            continue
        loss = summary.history["loss"]
        run = Run(run_dir)
        posts = run.dataset(verbose=False).labelled("test")
        keras_probs = run.predict(posts)[1]
        model = run.model
        sample = next(iter(run.inputs(posts[:4])))[0]
        out_dtype = keras.backend.standardize_dtype(class_scores(model(sample, training=False)).dtype)
        export_dir = os.path.join(tmp, f"export-{precision}")
        export_run(run_dir, export_dir)
        exported = ExportedModel(export_dir)
        served = exported.predict([p.text for p in posts], [p.image_path for p in posts])
        diff = float(np.max(np.abs(served - keras_probs)))
        bound = 1e-5 if precision == "float32" else 1e-3
        row = {
            "precision": precision,
            "steps": len(times),
            "loss_first_epoch": round(loss[0], 4),
            "loss_last_epoch": round(loss[-1], 4),
            "finite": bool(np.all(np.isfinite(loss)) and np.all(np.isfinite(keras_probs))),
            "scores_dtype": out_dtype,
            "export_max_abs_diff": diff,
            "export_bound": bound,
        }
        rows.append(row)
        if not row["finite"]:
            failures.append(f"numerics {precision}: NaN or Inf in the loss or the probabilities")
        if not args.cpu_dry_run and not loss[-1] < loss[0]:
            failures.append(f"numerics {precision}: the loss did not fall ({loss[0]:.4f} -> {loss[-1]:.4f})")
        if out_dtype != "float32":
            failures.append(f"numerics {precision}: class scores are {out_dtype}, not float32")
        if diff > bound:
            failures.append(f"export parity {precision}: max |served - keras| = {diff:.2e} > {bound:g}")
        if precision == "mixed_float16":
            optimizer = timer.optimizer
            row["optimizer"] = optimizer
            if optimizer != "LossScaleOptimizer":
                failures.append(f"numerics mixed_float16: the optimizer is {optimizer}, not a LossScaleOptimizer")
        if precision == "float32":
            report["serving"] = serving(exported, posts, args)
    report["numerics"] = rows


def serving(exported, posts, args) -> dict:
    texts = [p.text or "" for p in posts]
    images = []
    for p in posts:
        images.append(open(p.image_path, "rb").read() if p.image_path else b"")
    calls = 20 if args.cpu_dry_run else 200
    exported.predict_bytes(texts[:1], images[:1])
    one = []
    for i in range(calls):
        j = i % len(texts)
        start = time.perf_counter()
        exported.predict_bytes(texts[j : j + 1], images[j : j + 1])
        one.append(time.perf_counter() - start)
    batch_texts = (texts * (64 // max(1, len(texts)) + 1))[:64]
    batch_images = (images * (64 // max(1, len(images)) + 1))[:64]
    exported.predict_bytes(batch_texts, batch_images)
    start = time.perf_counter()
    rounds = 3 if args.cpu_dry_run else 20
    for _ in range(rounds):
        exported.predict_bytes(batch_texts, batch_images)
    return {
        "one_post_p50_ms": round(1000 * float(np.median(one)), 2),
        "one_post_p95_ms": round(1000 * float(np.percentile(one, 95)), 2),
        "batch64_posts_per_s": round(64 * rounds / (time.perf_counter() - start), 1),
    }


def print_report(report: dict) -> None:
    env = report["environment"]
    print(f"\nGPU check on {env.get('nvidia_smi') or (env['gpus'] or 'no GPU (CPU dry run)')}")
    print(f"TensorFlow {env['tensorflow']}, Keras {env['keras']}; --precision auto -> {env['precision_auto']}\n")
    print("| model | batch | precision | first step (s) | posts/s | speed-up | peak GPU MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in report.get("speed", []):
        mem = "—" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:,.0f}"
        up = "—" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        cells = [r["model"], r["batch"], r["precision"], r["first_step_s"], r["posts_per_s"], up, mem]
        print("| " + " | ".join(map(str, cells)) + " |")
    print("\n| precision | steps | loss first -> last epoch | finite | scores dtype | export max diff (bound) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in report.get("numerics", []):
        print(
            f"| {r['precision']} | {r['steps']} | {r['loss_first_epoch']} -> {r['loss_last_epoch']} | {r['finite']} "
            f"| {r['scores_dtype']} | {r['export_max_abs_diff']:.2e} ({r['export_bound']:g}) |"
        )
    s = report.get("serving")
    if s:
        print(
            f"\nserving (float32 export): one post p50 {s['one_post_p50_ms']} ms, p95 {s['one_post_p95_ms']} ms; "
            f"batch of 64: {s['batch64_posts_per_s']} posts/s"
        )
    print(f"\nwall time {report['wall_seconds']:.0f} s")
    if report["failures"]:
        print("\nFAILED CHECKS:\n" + "\n".join(f"- {f}" for f in report["failures"]))
    else:
        print("\nALL CHECKS PASSED")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 16 only, fewer steps (~3 minutes)")
    parser.add_argument("--cpu-dry-run", action="store_true", help="every step on CPU at tiny sizes")
    parser.add_argument("--out", default="gpu_check.json", help="the JSON report (default: gpu_check.json)")
    parser.add_argument("--posts", type=int, default=None, help="synthetic posts (default: 600, dry run 60)")
    args = parser.parse_args(argv)
    from data_pipelines.datasets.synthetic import make_synthetic

    if os.path.exists(args.out):  # replaces only an earlier report of its own
        try:
            with open(args.out, encoding="utf-8") as f:
                own = "environment" in json.load(f)
        except (OSError, ValueError, TypeError):
            own = False
        if not own:
            print(f"--out {args.out} exists and is not a gpu_check report: choose another name", file=sys.stderr)
            return 2

    gpu = bool(tf.config.list_physical_devices("GPU")) and not args.cpu_dry_run
    if not gpu and not args.cpu_dry_run:
        print("no GPU visible to TensorFlow: run with --cpu-dry-run to check the script on CPU", file=sys.stderr)
        return 2
    start = time.time()
    tmp = tempfile.mkdtemp(prefix="mmsa_gpu_check_")
    device = "/GPU:0" if gpu else "/CPU:0"
    env = environment(gpu)
    report = {"environment": env, "mode": "cpu-dry-run" if args.cpu_dry_run else ("quick" if args.quick else "full")}
    failures: list[str] = []
    data = os.path.join(tmp, "data")
    posts = args.posts or (40 if args.cpu_dry_run else 600)
    make_synthetic(data, posts=posts, image_size=32 if args.cpu_dry_run else 128, seed=0)
    precisions_ = precisions(gpu, env)
    with tf.device(device):
        speed(args, gpu, data, tmp, precisions_, report, failures)
        numerics_and_parity(args, gpu, data, tmp, precisions_, report, failures)
    report["failures"] = failures
    report["wall_seconds"] = time.time() - start
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=str)
    print_report(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
