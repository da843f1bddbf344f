import csv
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmsa_keras.app.fitting import resolve_precision
from mmsa_keras.app.training import TrainConfig, train
from tests.conftest import REPO


def _config(data_dir, out, **overrides):
    base = dict(
        model="native_cat",
        data_dir=data_dir,
        out=str(out),
        format="mvsa",
        epochs=8,
        batch_size=16,
        seed=0,
        image_size=32,
        sequence_length=16,
        patience=3,
        learning_rate=2e-3,
        verbose=0,
    )
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained_run(synthetic_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "native_cat"
    return train(_config(synthetic_dir, out))


def test_native_cat_beats_the_majority_class(trained_run):
    run_dir = trained_run.run_dir
    config = json.load(open(os.path.join(run_dir, "run_config.json")))
    val_counts = config["dataset_summary"]["splits"]["validation"]["counts"]
    majority = max(val_counts.values()) / sum(val_counts.values())
    val_acc = trained_run.all_metrics["validation"]["accuracy"]
    # measured: majority 0.435 (10 of 23), native_cat 0.826 on this 240-post set (seed 0)
    assert val_acc >= majority + 0.25, (val_acc, majority)


def test_run_directory_holds_everything(trained_run):
    run_dir = trained_run.run_dir
    for name in (
        "model.keras",
        "run_config.json",
        "splits.json",
        "preprocessing.json",
        "tokenizer.json",
        "history.csv",
        "metrics.json",
        "confusion_matrix_test.png",
        "training_curves.png",
        "data_report.json",
        "checkpoints/best.weights.h5",
    ):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # removed once training completed
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    test = metrics["test"]
    assert set(test["per_class"]) == {"negative", "neutral", "positive"}
    assert np.array(test["confusion_matrix"]).sum() == test["num_examples"]
    assert {"f1", "precision", "recall"} <= set(test["weighted"]) and "f1" in test["macro"]
    report = json.load(open(os.path.join(run_dir, "data_report.json")))
    assert report["counts"]["missing_image"] > 0  # the synthetic set's missing images were reported


def test_cli_evaluate_reuses_the_saved_split(trained_run, capsys):
    from mmsa_keras.app.cli import main

    run_dir = trained_run.run_dir
    before = json.load(open(os.path.join(run_dir, "metrics.json")))["test"]
    assert main(["evaluate", run_dir, "--split", "test"]) == 0
    after = json.load(open(os.path.join(run_dir, "metrics.json")))["test"]
    assert after["confusion_matrix"] == before["confusion_matrix"]
    assert "weighted F1" in capsys.readouterr().out


def test_exported_model_matches_keras_on_raw_inputs(trained_run, synthetic_dir, tmp_path):
    from data_pipelines.pipeline import Preprocessor
    from data_pipelines.report import DataReport
    from mmsa_keras.app import runs
    from mmsa_keras.app.export import ExportedModel, export_run

    run_dir = trained_run.run_dir
    export_dir = str(tmp_path / "export")
    export_run(run_dir, export_dir)
    dataset = runs.load_split_data(
        synthetic_dir,
        "mvsa",
        0,
        DataReport(max_messages=0),
        splits_file=os.path.join(run_dir, "splits.json"),
        verbose=False,
    )
    posts = dataset["test"][:12]
    assert any(not p.has_image for p in posts) or any(not p.has_text for p in posts)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    inputs, _ = next(iter(Preprocessor.load(run_dir).make_dataset(posts, batch_size=len(posts))))
    expected = np.asarray(model(inputs, training=False))
    served = ExportedModel(export_dir).predict([p.text for p in posts], [p.image_path for p in posts])
    np.testing.assert_allclose(served, expected, atol=1e-5)
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["serving_default"](text=tf.constant(["so happy"]), image_bytes=tf.constant([b""]))
    assert out["label"].numpy()[0].decode() in ("negative", "neutral", "positive")


def test_cli_predict_with_either_modality(trained_run, synthetic_dir, tmp_path, capsys):
    from mmsa_keras.app.cli import main
    from mmsa_keras.app.export import export_run

    export_dir = str(tmp_path / "export")
    export_run(trained_run.run_dir, export_dir)
    image = os.path.join(synthetic_dir, "data", "1.jpg")
    assert main(["predict", export_dir, "--text", "what a lovely day"]) == 0
    assert main(["predict", export_dir, "--image", image]) == 0
    table = tmp_path / "posts.csv"
    table.write_text(f"id,text,image_path\na,so sad,\nb,,{image}\nc,broken image,{table}\n")
    assert main(["predict", export_dir, "--csv", str(table)]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith(("a\t", "b\t", "c\t"))]
    assert len(lines) == 3
    assert "undecodable image" in captured.err  # the CSV named as an image is reported, not fatal


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")


def _weights(run_dir):
    from mmsa_keras.custom_objects import load_model

    return load_model(os.path.join(run_dir, "model.keras")).get_weights()


# dropout, shuffling, augmentation and early stopping all carry state from one epoch to the next
_RESUMED = dict(epochs=4, patience=1, augment=True, model_overrides={"projection_dropout": 0.2})


@pytest.fixture(scope="module")
def straight_run(synthetic_dir, tmp_path_factory):
    """The uninterrupted run that the resumed runs below must equal, bit for bit."""
    out = tmp_path_factory.mktemp("straight") / "run"
    return train(_config(synthetic_dir, out, **_RESUMED))


def test_a_resumed_run_ends_bitwise_equal_to_an_uninterrupted_one(synthetic_dir, straight_run, tmp_path):
    """Dropout, shuffling, augmentation and early-stopping state all continue exactly (on a CPU)."""
    straight = straight_run
    config = _config(synthetic_dir, tmp_path / "run", **_RESUMED)
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[_Interrupt(at_epoch=1)])
    assert os.path.isdir(tmp_path / "run" / "backup")
    summary = train(config)  # the same command again resumes after the last finished epoch
    assert summary.trained and summary.epochs_run == 3  # epochs 2..4 ran again
    with open(tmp_path / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(straight.run_dir, "history.csv")) as f:
        straight_rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in straight_rows]
    assert [r["val_loss"] for r in rows] == [r["val_loss"] for r in straight_rows]
    for a, b in zip(_weights(tmp_path / "run"), _weights(straight.run_dir)):
        np.testing.assert_array_equal(a, b)
    assert summary.all_metrics["test"]["confusion_matrix"] == straight.all_metrics["test"]["confusion_matrix"]
    assert not os.path.exists(tmp_path / "run" / "backup")
    again = train(config)  # a completed run is not retrained
    assert again.trained is False


def test_a_corrupt_backup_falls_back_to_the_previous_generation(synthetic_dir, straight_run, tmp_path, capsys):
    import shutil

    config = _config(synthetic_dir, tmp_path / "run", **_RESUMED)
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[_Interrupt(at_epoch=2)])
    backup = tmp_path / "run" / "backup"
    generations = sorted(p.name for p in backup.glob("epoch-*"))
    assert generations == ["epoch-00001", "epoch-00002"]  # the newest and the one before it
    shutil.copytree(tmp_path / "run", tmp_path / "run2")  # the same interrupted run, for the last case
    newest = backup / "epoch-00002" / "variables.npz"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated, as by a full disk or a kill mid-write
    summary = train(config)
    err = capsys.readouterr().err
    assert "epoch-00002" in err and "unusable" in err and "epoch-00001" in err
    assert summary.trained and summary.epochs_run == 3  # resumed after epoch 1
    for a, b in zip(_weights(tmp_path / "run"), _weights(straight_run.run_dir)):
        np.testing.assert_array_equal(a, b)
    # nothing usable at all: a fresh start, said on stderr, never a blocked run
    for f in (tmp_path / "run2" / "backup").glob("epoch-*/checksums.json"):
        f.write_text("{not json")
    summary = train(config.replace(out=str(tmp_path / "run2")))
    assert "starts again from epoch 1" in capsys.readouterr().err and summary.epochs_run == 4
    for a, b in zip(_weights(tmp_path / "run2"), _weights(straight_run.run_dir)):
        np.testing.assert_array_equal(a, b)  # and the fresh start is the uninterrupted run again


def test_changed_settings_with_a_backup_ask_for_force(synthetic_dir, tmp_path):
    from mmsa_keras.errors import RunError

    config = _config(synthetic_dir, tmp_path / "run", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[_Interrupt(at_epoch=0)])
    with pytest.raises(RunError, match="learning_rate.*--force"):
        train(config.replace(learning_rate=0.01))
    summary = train(config.replace(learning_rate=0.01, force=True))  # afresh: backup and history removed
    assert summary.trained and summary.epochs_run == 3
    with open(tmp_path / "run" / "history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1", "2"]


_HOLD_LOCK = """
import sys, time
from data_pipelines.outputs import claim_output_dir
from mmsa_keras.app.runs import RunLock
claim_output_dir(sys.argv[1], "run")
RunLock(sys.argv[1]).__enter__()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_and_a_killed_writers_lock_taken_over(synthetic_dir, tmp_path):
    from mmsa_keras.app.runs import RunLock
    from mmsa_keras.errors import RunError

    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(run)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunError, match=f"in use by process {holder.pid}"):
            train(_config(synthetic_dir, run, epochs=1))
    finally:
        holder.kill()  # SIGKILL: no clean-up ran, the .lock file stays
        holder.wait()
    assert (run / ".lock").exists()
    summary = train(_config(synthetic_dir, run, epochs=1))  # the kernel released the lock: taken over
    assert summary.trained and not (run / ".lock").exists()
    with RunLock(str(run)):
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()


_RACE = """
import os, sys, time
from mmsa_keras.errors import RunError
from mmsa_keras.app.runs import RunLock
run, rounds = sys.argv[1], int(sys.argv[2])
held = 0
for _ in range(rounds):
    try:
        with RunLock(run):
            try:  # exclusive proof of holding: a second holder cannot create it
                fd = os.open(os.path.join(run, "inside"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                print("two holders", flush=True)
                sys.exit(3)
            time.sleep(0.002)
            os.close(fd)
            os.remove(os.path.join(run, "inside"))
            held += 1
    except RunError:
        pass
    time.sleep(0.001)
print("held", held, flush=True)
"""


def test_processes_racing_for_a_stale_lock_never_both_hold_it(tmp_path):
    """Six processes take and release the lock 40 times each, starting from a lock a dead process left."""
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": 999999, "host": socket.gethostname()}))
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACE, str(run), "40"], stdout=subprocess.PIPE, text=True, cwd=REPO)
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(int(o.split()[-1]) for o in outputs) > 0  # the lock was taken (and never by two at once)


def test_precision_auto_is_float32_without_a_gpu():
    if tf.config.list_physical_devices("GPU"):
        assert resolve_precision("auto") == "mixed_float16"
    else:
        assert resolve_precision("auto") == "float32"
    with pytest.raises(ValueError):
        resolve_precision("half")


@pytest.mark.parametrize("model", ["native_cat", "cmac"])  # a single output and a dict of outputs
def test_class_weights_reach_the_loss(model, synthetic_dir, tmp_path):
    """`--class-weight FILE`: a class of weight 0 never enters the loss; `balanced` is n / (k n_c)."""
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"negative": 0.0, "neutral": 0.0}))  # positive keeps 1.0
    summary = train(_config(synthetic_dir, tmp_path / model, model=model, epochs=3, class_weight=str(weights)))
    config = json.load(open(os.path.join(summary.run_dir, "run_config.json")))
    assert config["class_weights"] == [0.0, 0.0, 1.0]
    predicted = np.asarray(summary.all_metrics["test"]["confusion_matrix"]).sum(axis=0)
    assert predicted[2] == predicted.sum()  # only "positive" was ever rewarded

    from data_pipelines.datasets import load_dataset
    from data_pipelines.pipeline import class_weights_for

    train_posts = [p for p in load_dataset(synthetic_dir, "mvsa")["all"]][:90]
    counts = np.bincount([p.label for p in train_posts], minlength=3)
    balanced = class_weights_for(train_posts, 3, "balanced")
    np.testing.assert_allclose(balanced, 90 / (3 * counts), rtol=1e-6)
    np.testing.assert_allclose((balanced * counts).sum(), 90, rtol=1e-5)  # the total weight is unchanged
    sqrt_balanced = class_weights_for(train_posts, 3, "sqrt_balanced")
    np.testing.assert_allclose(sqrt_balanced, np.sqrt(90 / (3 * counts)), rtol=1e-6)


def test_the_model_saved_in_the_background_is_whole_and_its_errors_reach_the_caller(
    synthetic_dir, tmp_path, monkeypatch
):
    """`train` writes model.keras in a thread while it evaluates; a failed save is raised, never half-written."""
    from mmsa_keras.app.finishing import BackgroundSave
    from mmsa_keras.app.runs import run_state
    from mmsa_keras.custom_objects import load_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    saving = BackgroundSave(model, str(tmp_path / "model.keras"))
    saving.join()
    x = np.ones((1, 3), "float32")
    np.testing.assert_array_equal(load_model(str(tmp_path / "model.keras"))(x), model(x))
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]

    run = tmp_path / "run"
    original = keras.Model.save

    def failing_save(self, path, *args, **kwargs):
        if not os.path.basename(path).startswith(".model."):  # the per-epoch backups save as usual
            return original(self, path, *args, **kwargs)
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save", failing_save)
        with pytest.raises(OSError, match="disk full"):
            train(_config(synthetic_dir, run, epochs=1))
    assert not (run / "model.keras").exists() and not [n for n in os.listdir(run) if n.startswith(".model.")]
    assert run_state(str(run)) == "interrupted"  # the backup is kept: the same command resumes the run
    assert train(_config(synthetic_dir, run, epochs=1)).trained and run_state(str(run)) == "complete"
