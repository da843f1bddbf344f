"""Serving the exported SavedModel: load time, one-post latency, batched throughput, peak memory.

For `native_cat` and `cmac` with MiniLM-L6 text and the small CNN (trained one
epoch on the embedded synthetic set, then exported), each measured in a fresh
process that imports only TensorFlow and tensorflow_text (what a serving host
has), through the `serve` signature with raw captions and JPEG bytes:

  * load time of `tf.saved_model.load`;
  * one post (caption + image) per call: p50 / p95 latency over `--calls` calls;
  * batches of 64 posts: posts/s;
  * peak resident memory of the serving process.

    python benchmarks/serving.py [--calls 200] [--batches 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MEASURE = r"""
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
import tensorflow as tf, tensorflow_text  # noqa: F401
imported = time.perf_counter() - t0
export, image_path, calls, batches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
serve = tf.saved_model.load(export).signatures["serve"]
load = time.perf_counter() - t0
image = open(image_path, "rb").read()
one_text, one_image = tf.constant(["what a lovely day at the beach"]), tf.constant([image])
for _ in range(5):
    serve(text=one_text, image_bytes=one_image)
lat = []
for _ in range(calls):
    t0 = time.perf_counter()
    serve(text=one_text, image_bytes=one_image)["probabilities"].numpy()
    lat.append(time.perf_counter() - t0)
texts = tf.constant(["what a lovely day at the beach number %d" % i for i in range(64)])
images = tf.constant([image] * 64)
serve(text=texts, image_bytes=images)
t0 = time.perf_counter()
for _ in range(batches):
    serve(text=texts, image_bytes=images)["probabilities"].numpy()
batched = 64 * batches / (time.perf_counter() - t0)
print("RESULT" + json.dumps({"import_s": imported, "load_s": load, "p50_ms": 1000 * float(np.percentile(lat, 50)),
                             "p95_ms": 1000 * float(np.percentile(lat, 95)), "posts_per_s": batched,
                             "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--models", default="native_cat,cmac")
    args = parser.parse_args(argv)

    from benchmarks.common import print_table
    from data_pipelines.datasets.synthetic import make_synthetic
    from mmsa_keras.app.config import TrainConfig
    from mmsa_keras.app.export import export_run
    from mmsa_keras.app.training import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic(data, posts=200, image_size=64, seed=0)
        image = os.path.join(
            data, "data", sorted(f for f in os.listdir(os.path.join(data, "data")) if f.endswith(".jpg"))[0]
        )
        for model in args.models.split(","):
            run = os.path.join(tmp, model)
            train(
                TrainConfig(
                    model=model,
                    data_dir=data,
                    out=run,
                    epochs=1,
                    text_encoder="minilm_l6",
                    image_encoder="small_cnn",
                    verbose=0,
                    feature_store=os.path.join(tmp, "store"),
                )
            )
            export = os.path.join(run, "export")
            export_run(run, export)
            proc = subprocess.run(
                [sys.executable, "-c", MEASURE, export, image, str(args.calls), str(args.batches)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
            if line is None:
                raise SystemExit(proc.stderr[-3000:])
            r = json.loads(line[len("RESULT") :])
            rows.append(
                [
                    f"{model} (MiniLM-L6 + small CNN)",
                    f"{r['load_s']:.2f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p95_ms']:.1f}",
                    f"{r['posts_per_s']:.0f}",
                    f"{r['peak_rss_mib']:.0f}",
                ]
            )
    print(f"\nexported SavedModel, `serve` signature, one post = caption + 64px JPEG; {os.cpu_count()} CPU cores\n")
    print_table(["model", "load (s)", "one post p50 (ms)", "p95 (ms)", "batch 64 (posts/s)", "peak RSS (MiB)"], rows)


if __name__ == "__main__":
    main()
