"""How much does the image add on the embedded synthetic set?

Trains the text-only, image-only and NativeCat rows of paper 002 (or, with
`--all-fusion`, every model of papers 002 and 004) with the small encoders on
the default synthetic set (600 posts, 64px) for several seeds and prints test
accuracy and weighted F1 (mean ± std). The synthetic set is built so that
text alone is capped (neutral or ironic captions whose label follows the
image); this benchmark measures that cap.

    python benchmarks/synthetic_modalities.py [--seeds 3] [--epochs 12] [--all-fusion]

All rows use the same training settings (Adam 1e-3, batch 32, early stopping),
not each paper's optimiser, so that they compare on equal terms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import print_table  # noqa: E402
from data_pipelines.datasets.synthetic import make_synthetic  # noqa: E402
from mmsa_keras.app.training import TrainConfig, train  # noqa: E402

MODELS = ["bert_resnet_text_only", "bert_resnet_image_only", "native_cat"]
PAPER_002_004 = [
    "bert_resnet_text_only",
    "bert_resnet_image_only",
    "native_cat",
    "native_combine",
    "cmac",
    "hstec",
    "ote",
    "joint_fusion_text_only",
    "joint_fusion_image_only",
    "early_fusion",
    "late_fusion",
    "joint_fusion",
    "common_space_fusion",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--all-fusion", action="store_true", help="every model of papers 002 and 004")
    args = parser.parse_args(argv)
    if args.all_fusion:
        args.models = PAPER_002_004
    results = {m: [] for m in args.models}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        make_synthetic(data, posts=args.posts, image_size=64, seed=0)
        for seed in range(args.seeds):
            for name in args.models:
                summary = train(
                    TrainConfig(
                        model=name,
                        data_dir=data,
                        out=os.path.join(tmp, f"{name}_{seed}"),
                        epochs=args.epochs,
                        seed=seed,
                        verbose=0,
                    )
                )
                m = summary.metrics
                results[name].append((m["accuracy"], m["weighted"]["f1"]))
                print(
                    f"seed {seed} {name}: accuracy {m['accuracy']:.3f} weighted F1 {m['weighted']['f1']:.3f}",
                    flush=True,
                )
    rows = []
    for name, values in results.items():
        acc, f1 = np.array(values).T
        rows.append([name, f"{acc.mean():.3f} ± {acc.std():.3f}", f"{f1.mean():.3f} ± {f1.std():.3f}"])
    print(
        f"\nsynthetic set: {args.posts} posts, seed-0 data, split 8:1:1 by each run's seed; "
        f"{args.seeds} seeds, {args.epochs} epochs max\n"
    )
    print_table(["model", "test accuracy", "test weighted F1"], rows)


if __name__ == "__main__":
    main()
