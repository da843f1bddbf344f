"""The `mmsa` command.

    mmsa datasets make-synthetic OUT_DIR [--posts N] [--image-size S] [--seed K]
    mmsa models
    mmsa train --model NAME --data-dir D --format F --out RUN_DIR [--epochs E] ...
    mmsa evaluate RUN_DIR [--split test]
    mmsa export RUN_DIR OUT_DIR
    mmsa predict MODEL_DIR [--text T] [--image PATH] [--csv FILE]
    mmsa demo [--out DIR]      the embedded default, end to end
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from mmsa_keras.training import PRECISIONS, STRATEGIES

    p.add_argument("--model", required=True, help="registry name (see `mmsa models`)")
    p.add_argument("--data-dir", required=True, help="dataset folder (or file for table formats)")
    p.add_argument("--format", default="mvsa", help="dataset format (mvsa, table, ...)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: mixed_float16 on a GPU, float32 on a CPU")
    p.add_argument("--strategy", choices=STRATEGIES, default="auto",
                   help="auto: MirroredStrategy when several GPUs are visible")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=3, help="EarlyStopping patience (epochs)")
    p.add_argument("--image-size", type=int, default=None, help="default: the image encoder's own (64 for small_cnn)")
    p.add_argument("--sequence-length", type=int, default=32)
    p.add_argument("--text-encoder", default=None,
                   help="text encoder name (default: the model's own, else small_transformer)")
    p.add_argument("--image-encoder", default=None,
                   help="image encoder name (default: the model's own, else small_cnn)")
    p.add_argument("--no-augment", action="store_true", help="no augmentation of training images")
    p.add_argument("--balance-to", type=int, default=None,
                   help="resample each training class to N posts (with augmentation)")
    p.add_argument("--tensorboard", action="store_true")
    p.add_argument("--force", action="store_true", help="retrain even if RUN_DIR holds a model")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model constructor override, e.g. --set hidden_dim=32 (JSON values)")
    _add_format_options(p)
    g = p.add_argument_group("optimiser and fine-tuning")
    g.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default="adam")
    g.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled weight decay")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up steps (paper 000: 500)")
    g.add_argument("--schedule", choices=("constant", "linear", "cosine"), default="constant",
                   help="decay after the warm-up")
    g.add_argument("--unfreeze", default="0",
                   help="pretrained encoders: 0 frozen (default), all, or k top blocks/layers")
    g.add_argument("--encoder-learning-rate", type=float, default=None,
                   help="learning rate of unfrozen encoders (default: --learning-rate)")
    g.add_argument("--feature-mode", choices=("auto", "on", "off"), default="auto",
                   help="train the head on stored encoder outputs (auto: when every encoder is "
                        "pretrained and frozen)")
    g.add_argument("--feature-store", default=None, help="feature store folder (default: beside --out)")


def _parse_overrides(items):
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_make_synthetic(args) -> int:
    from data_pipelines.datasets.synthetic import make_synthetic

    summary = make_synthetic(args.out_dir, posts=args.posts, image_size=args.image_size, seed=args.seed)
    print(f"wrote {summary['posts']} posts to {args.out_dir} (MVSA layout)")
    print(f"  classes: {summary['classes']}")
    print(f"  kinds:   {summary['kinds']}")
    return 0


def _format_options(args) -> dict:
    """Reader options from --protocol, --split-by, --layout and --option KEY=VALUE."""
    out = _parse_overrides(getattr(args, "option", []) or [])
    for key, attr in (("protocol", "protocol"), ("split", "split_by"), ("layout", "layout")):
        value = getattr(args, attr, None)
        if value is not None:
            out[key] = value
    return out


def _add_format_options(p) -> None:
    p.add_argument("--protocol", choices=("A", "B"), default=None,
                   help="MVSA original layout: cleaning protocol (default A)")
    p.add_argument("--split-by", default=None,
                   help="how the reader splits: file, random, paper002 (MVSA), popularity (emotion folders)")
    p.add_argument("--layout", default=None, help="MVSA layout: original, guid or json (default: detected)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="other reader options, e.g. --option min_words=0 (JSON values)")


def cmd_describe(args) -> int:
    from data_pipelines.describe import describe, format_description

    d = describe(args.path, args.format, check_images=not args.no_image_check, verbose=not args.json,
                 **_format_options(args))
    print(json.dumps(d, indent=2, ensure_ascii=False) if args.json else format_description(d))
    return 0


def cmd_validate(args) -> int:
    from data_pipelines.datasets import load_dataset
    from data_pipelines.describe import validate
    from data_pipelines.report import DataReport

    report = DataReport()
    problems = validate(load_dataset(args.path, args.format, report=report, **_format_options(args)))
    print(report.summary())
    if problems:
        for p in problems:
            print(f"FATAL: {p}")
        return 1
    print(f"{args.path}: OK, ready to train")
    return 0


def cmd_features_extract(args) -> int:
    """Run one frozen encoder over a dataset into the feature store."""
    from data_pipelines.datasets import load_dataset
    from data_pipelines.features import extract_features
    from data_pipelines.images import scan_images
    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.report import DataReport
    from mmsa_keras.encoders import (IMAGE_ENCODERS, build_image_encoder, build_text_encoder,
                                     image_encoder_spec, text_encoder_spec, tokenizer_for)

    import keras

    keras.utils.set_random_seed(args.seed)  # a randomly initialised encoder is the same on every run
    report = DataReport()
    dataset = load_dataset(args.data_dir, args.format, report=report, **_format_options(args))
    posts = dataset.all_posts()
    if args.encoder in IMAGE_ENCODERS:
        scan_images(posts, report)
        spec = image_encoder_spec(args.encoder)
        pre = Preprocessor(image_size=args.image_size or spec.image_size or 64,
                           normalisation=spec.normalisation).fit(posts)
        kwargs = {"image_size": pre.image_size}
        if spec.pretrained:
            kwargs["weights"] = None if args.weights in (None, "none") else args.weights
        encoder = build_image_encoder(args.encoder, **kwargs)
        modality = "image"
    else:
        if not text_encoder_spec(args.encoder).pretrained:
            raise SystemExit(f"{args.encoder} is trained from scratch: there is nothing frozen to extract")
        pre = Preprocessor(tokenizer=tokenizer_for(args.encoder, args.sequence_length), normalisation="none")
        encoder = build_text_encoder(args.encoder)
        modality = "text"
    fs = extract_features(encoder, modality, posts, pre, args.out, batch_size=args.batch_size,
                          sequences=args.sequences)
    print(report.summary())
    print(f"{fs.manifest['num_posts']} posts, outputs {fs.manifest['outputs']} in {fs.directory}")
    return 0


def cmd_reproduce(args) -> int:
    from experiments.runner import list_tables, reproduce

    if args.list or not args.table:
        print(f"{'table':28s} title")
        for name, title in list_tables():
            print(f"{name:28s} {title}")
        return 0
    start = time.time()
    results = reproduce(args.table, data_dir=args.data_dir, format=args.format, protocol=args.protocol,
                        seeds=args.seeds, smoke=args.smoke, out=args.out, text_encoder=args.text_encoder,
                        image_encoder=args.image_encoder, variant=args.variant, epochs=args.epochs,
                        finetune=args.finetune)
    report = os.path.join(args.out, args.table, "report.md")
    print(f"\n{results['data']}")
    for row, entry in results["rows"].items():
        first = next(iter(entry["mean"]))
        paper = entry["paper"].get(first)
        print(f"  {row:28s} {first} ours {entry['mean'][first]:.2f} ± {entry['std'][first]:.2f}"
              + (f"   paper {paper}" if paper is not None else ""))
    print(f"report: {report} ({time.time() - start:.0f} s)")
    return 0


def cmd_models(args) -> int:
    from mmsa_keras.registry import list_models

    print(f"{'name':28s} {'paper':5s} {'table':10s} description")
    for spec in list_models():
        print(f"{spec.name:28s} {spec.paper:5s} {spec.table:10s} {spec.description}")
    return 0


def cmd_train(args) -> int:
    from mmsa_keras.training import TrainConfig, train

    config = TrainConfig(
        model=args.model, data_dir=args.data_dir, format=args.format, out=args.out,
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, precision=args.precision,
        strategy=args.strategy, learning_rate=args.learning_rate, patience=args.patience,
        image_size=args.image_size, sequence_length=args.sequence_length,
        text_encoder=args.text_encoder, image_encoder=args.image_encoder,
        augment=not args.no_augment, balance_to=args.balance_to, tensorboard=args.tensorboard,
        force=args.force, model_overrides=_parse_overrides(args.set), format_options=_format_options(args),
        optimizer=args.optimizer, weight_decay=args.weight_decay, momentum=args.momentum,
        warmup_steps=args.warmup_steps, schedule=args.schedule, unfreeze=args.unfreeze,
        encoder_learning_rate=args.encoder_learning_rate, feature_mode=args.feature_mode,
        feature_store=args.feature_store,
    )
    summary = train(config)
    if summary.get("trained"):
        print(f"trained in {summary['train_seconds']:.1f}s; run directory: {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from mmsa_keras.evaluation import evaluate_run

    evaluate_run(args.run_dir, args.split)
    print(f"metrics written to {os.path.join(args.run_dir, 'metrics.json')}")
    return 0


def cmd_export(args) -> int:
    from mmsa_keras.export import export_run

    export_run(args.run_dir, args.out_dir)
    print(f"SavedModel (signature 'serve': text, image_bytes -> probabilities, label) in {args.out_dir}")
    return 0


def _read_predict_csv(path):
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        cols = {c.lower(): c for c in reader.fieldnames or []}
        if "text" not in cols and "image_path" not in cols:
            raise SystemExit(f"{path}: needs a 'text' and/or an 'image_path' column")
        base = os.path.dirname(os.path.abspath(path))
        for i, row in enumerate(reader, start=2):
            image = (row.get(cols.get("image_path", ""), "") or "").strip()
            if image and not os.path.isabs(image):
                image = os.path.join(base, image)
            rows.append({"id": row.get(cols.get("id", ""), str(i)) or str(i),
                         "text": row.get(cols.get("text", ""), "") or "", "image": image or None})
    return rows


def cmd_predict(args) -> int:
    from data_pipelines.images import check_image_file
    from mmsa_keras.export import ExportedModel

    if args.csv:
        rows = _read_predict_csv(args.csv)
    elif args.text is None and args.image is None:
        raise SystemExit("give --text, --image (or both), or --csv")
    else:
        rows = [{"id": "input", "text": args.text or "", "image": args.image}]
    for row in rows:
        if row["image"]:
            kind, message = check_image_file(row["image"])
            if kind is not None:
                print(f"[mmsa] {row['image']}: {kind.replace('_', ' ')} ({message}); "
                      "predicting without the image", file=sys.stderr)
                row["image"] = None
    model = ExportedModel(args.model_dir)
    probs = model.predict([r["text"] for r in rows], [r["image"] for r in rows])
    names = model.class_names
    print("id\tlabel\t" + "\t".join(f"p({n})" for n in names))
    for row, p in zip(rows, probs):
        print(f"{row['id']}\t{names[int(p.argmax())]}\t" + "\t".join(f"{x:.4f}" for x in p))
    return 0


def cmd_demo(args) -> int:
    """The embedded default end to end: data → train → evaluate → export → predict."""
    from data_pipelines.datasets.synthetic import make_synthetic
    from mmsa_keras.export import ExportedModel, export_run
    from mmsa_keras.training import TrainConfig, train

    start = time.time()
    data_dir = os.path.join(args.out, "synthetic_data")
    run_dir = os.path.join(args.out, "native_cat")
    print(f"[1/4] writing the synthetic dataset ({args.posts} posts) to {data_dir}")
    make_synthetic(data_dir, posts=args.posts, image_size=64, seed=args.seed)
    print("[2/4] training native_cat (paper 002) with the small CNN and small transformer")
    summary = train(TrainConfig(model="native_cat", data_dir=data_dir, out=run_dir, epochs=args.epochs,
                                seed=args.seed, force=True))
    export_dir = os.path.join(run_dir, "export")
    print(f"[3/4] exporting a SavedModel with a raw-input signature to {export_dir}")
    export_run(run_dir, export_dir)
    print("[4/4] predicting on two posts through the exported model")
    model = ExportedModel(export_dir)
    example_image = sorted(f for f in os.listdir(os.path.join(data_dir, "data")) if f.endswith(".jpg"))[0]
    probs = model.predict(["what a wonderful day with friends #blessed", ""],
                          [None, os.path.join(data_dir, "data", example_image)])
    for label, p in zip(["text only: 'what a wonderful day with friends #blessed'",
                         f"image only: {example_image}"], probs):
        print(f"  {label} -> {model.class_names[int(p.argmax())]} "
              + " ".join(f"{n}={x:.3f}" for n, x in zip(model.class_names, p)))
    m = summary["metrics"]
    print(f"\ndone in {time.time() - start:.0f}s. test accuracy {m['accuracy']:.3f}, "
          f"weighted F1 {m['weighted']['f1']:.3f}")
    print(f"run directory: {run_dir} (metrics.json, confusion_matrix_test.png, model.keras, export/)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmsa", description="multimodal sentiment models in Keras 3")
    sub = parser.add_subparsers(dest="command", required=True)

    ds = sub.add_parser("datasets", help="dataset tools").add_subparsers(dest="datasets_command", required=True)
    p = ds.add_parser("make-synthetic", help="write the embedded synthetic dataset (MVSA layout)")
    p.add_argument("out_dir")
    p.add_argument("--posts", type=int, default=600)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_synthetic)
    for name, func, text in (("describe", cmd_describe, "posts per split and class, and every problem found"),
                             ("validate", cmd_validate, "exit non-zero if the dataset cannot train")):
        p = ds.add_parser(name, help=text)
        p.add_argument("path", help="dataset folder (or the CSV file for twitter_csv / table)")
        p.add_argument("--format", required=True)
        _add_format_options(p)
        if name == "describe":
            p.add_argument("--json", action="store_true", help="print one JSON object")
            p.add_argument("--no-image-check", action="store_true", help="skip decoding every image")
        p.set_defaults(func=func)

    sub.add_parser("models", help="list registered models").set_defaults(func=cmd_models)

    p = sub.add_parser("reproduce", help="reproduce a paper table and report paper vs ours")
    p.add_argument("table", nargs="?", help="e.g. bert_resnet/table4 (see --list)")
    p.add_argument("--list", action="store_true", help="list the tables")
    p.add_argument("--data-dir", default=None, help="the paper's dataset (default: the embedded synthetic set)")
    p.add_argument("--format", default=None, help="dataset format (default: the table's)")
    p.add_argument("--protocol", choices=("A", "B"), default=None)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--smoke", action="store_true", help="tiny encoders, one epoch (a quick check)")
    p.add_argument("--out", default="results")
    p.add_argument("--text-encoder", default=None)
    p.add_argument("--image-encoder", default=None)
    p.add_argument("--variant", default=None, help="dataset variant of a table (joint_fusion: reddit, flickr)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--finetune", action="store_true", help="fine-tune the encoders as the paper did")
    p.set_defaults(func=cmd_reproduce)

    fx = sub.add_parser("features", help="feature store").add_subparsers(dest="features_command", required=True)
    p = fx.add_parser("extract", help="run a frozen encoder over a dataset once, into the store")
    p.add_argument("--encoder", required=True, help="resnet50, mobilenet_v2, inception_v3, alexnet, minilm_l6, "
                                                   "a keras-hub preset or a local directory")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--format", default="mvsa")
    p.add_argument("--out", required=True, help="feature store folder")
    p.add_argument("--weights", default=None,
                   help="image encoders: imagenet (downloaded once), a weights file, or none (default)")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--sequence-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sequences", action="store_true", help="also store token states / spatial maps")
    p.add_argument("--seed", type=int, default=0, help="seed of a randomly initialised encoder")
    _add_format_options(p)
    p.set_defaults(func=cmd_features_extract)

    p = sub.add_parser("train", help="train a registered model")
    _add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a run directory")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a run as a SavedModel taking raw inputs")
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="predict with an exported model")
    p.add_argument("model_dir")
    p.add_argument("--text")
    p.add_argument("--image")
    p.add_argument("--csv", help="CSV with columns text and/or image_path (and optional id)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="the embedded default end to end")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--posts", type=int, default=600)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
