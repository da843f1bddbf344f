"""Input pipeline vs train step: is the tf.data pipeline fast enough to feed training?

Measures, in one run on the embedded synthetic set:
  * posts/s of the training input stream alone (augment + normalise +
    tokenise, batched and prefetched), iterated without a model: with the
    decoded-image cache (each image decoded and resized once per dataset,
    what `mmsa train` uses) and, for comparison, decoding every image at every
    step;
  * posts/s of `native_cat`'s train step with the small encoders, fed from
    batches already in memory (so it measures the step alone);
  * their ratio (> 1: the pipeline outruns the step), and peak resident memory.

    python benchmarks/pipeline_throughput.py [--posts 600] [--batch-size 32] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from benchmarks.common import peak_rss_mib, print_table  # noqa: E402
from data_pipelines.datasets import load_dataset  # noqa: E402
from data_pipelines.datasets.synthetic import make_synthetic  # noqa: E402
from data_pipelines.image_cache import ImageCache  # noqa: E402
from data_pipelines.pipeline import Preprocessor  # noqa: E402
from data_pipelines.report import DataReport  # noqa: E402
from mmsa_keras.registry import create_model  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="batches timed per phase")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic(tmp, posts=args.posts, image_size=args.image_size, seed=0)
        posts = load_dataset(tmp, "mvsa", report=DataReport(max_messages=0))["all"]
        pre = Preprocessor(image_size=args.image_size, sequence_length=32).fit(posts, verbose=False)
        start = time.perf_counter()
        cache = ImageCache.build(posts, args.image_size, os.path.join(tmp, "cache"), verbose=False)
        cache_s = time.perf_counter() - start

        def rate(image_cache):
            ds, _ = pre.stream(posts, args.batch_size, seed=0, epochs=1000, augment=True, image_cache=image_cache)
            it = iter(ds)
            for _ in range(3):  # warm-up: tracing, thread pools
                next(it)
            start = time.perf_counter()
            for _ in range(args.steps):
                next(it)
            return args.steps * args.batch_size / (time.perf_counter() - start), it

        uncached_rate, _ = rate(None)
        pipeline_rate, it = rate(cache)
        pipeline_rss = peak_rss_mib()

        batches = [next(it) for _ in range(4)]
        model = create_model(
            "native_cat",
            text_encoder="small_transformer",
            text_encoder_config={"vocabulary_size": pre.tokenizer.vocabulary_size, "sequence_length": 32},
            image_encoder="small_cnn",
            image_encoder_config={"image_size": args.image_size},
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        for x, y in batches[:2]:  # warm-up: graph tracing
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for i in range(args.steps):
            x, y = batches[i % len(batches)]
            model.train_on_batch(x, y)
        step_s = time.perf_counter() - start
        step_rate = args.steps * args.batch_size / step_s

    print(
        f"\nembedded synthetic set: {args.posts} posts, {args.image_size}px, batch {args.batch_size}, "
        f"{args.steps} batches per phase, {os.cpu_count()} CPU cores\n"
    )
    print_table(
        ["phase", "posts/s", "peak RSS (MiB)"],
        [
            [
                "input stream, images decoded once (cache) + augment + tokenise",
                f"{pipeline_rate:.0f}",
                f"{pipeline_rss:.0f}",
            ],
            ["input stream, decoding every image at every step", f"{uncached_rate:.0f}", ""],
            [f"  (building the cache: {len(posts)} posts in {cache_s:.1f} s, once per dataset)", "", ""],
            ["native_cat train step (small encoders)", f"{step_rate:.0f}", f"{peak_rss_mib():.0f}"],
            ["ratio pipeline (cached) / train step", f"{pipeline_rate / step_rate:.2f}", ""],
        ],
    )


if __name__ == "__main__":
    main()
