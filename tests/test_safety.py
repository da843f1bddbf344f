"""A careless user and a hostile dataset, each command in its own process: nothing of theirs is lost,
nothing outside the dataset is read, and every damaged file is named with its fix."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.test_cli import SMALL, mmsa

TINY = ["--model", "native_cat", "--format", "mvsa", *SMALL, "--patience", "5"]


def _one_error_line(proc, code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[mmsa]")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _tree(path) -> dict:
    """{relative path: bytes} of every file under `path` (what must stay untouched)."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            full = os.path.join(root, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = fh.read()
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("safety") / "data"
    mmsa("datasets", "make-synthetic", path, "--posts", "80", "--image-size", "32", "--seed", "2")
    return path


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    path = tmp_path_factory.mktemp("safety_runs") / "run"
    mmsa("train", *TINY, "--data-dir", dataset, "--out", path)
    return path


# ============================================================================ own what you write
def test_export_never_replaces_the_users_files_the_run_or_the_current_folder(run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    before_run = _tree(run)
    cases = [
        (mine, "not empty and was not written by mmsa"),
        (run, "is the run being exported"),
        (run.parent, "is the run being exported or one of its parents"),
        (".", "is the current folder"),
    ]
    for out, words in cases:
        proc = mmsa("export", run, out, check=False)
        _one_error_line(proc, 2, words)
    assert (mine / "notes.txt").read_text() == "keep me" and os.listdir(mine) == ["notes.txt"]
    assert _tree(run) == before_run
    # a new folder, then the same again (an earlier export is replaced), then an empty folder the user made
    out = tmp_path / "export"
    mmsa("export", run, out)
    mmsa("export", run, out)
    assert (out / "saved_model.pb").exists() and not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    empty = tmp_path / "empty"
    empty.mkdir()
    mmsa("export", run, empty)
    assert (empty / "saved_model.pb").exists()


def test_train_and_make_synthetic_refuse_a_folder_they_did_not_create(dataset, tmp_path):
    mine = tmp_path / "mine"
    (mine / "checkpoints").mkdir(parents=True)
    (mine / "history.csv").write_text("my own history\n")
    (mine / "checkpoints" / "weights.h5").write_text("mine")
    before = _tree(mine)
    for extra in ([], ["--force"]):
        proc = mmsa("train", *TINY, "--data-dir", dataset, "--out", mine, *extra, check=False)
        _one_error_line(proc, 2, str(mine), "not written by mmsa")
        assert _tree(mine) == before
    # make-synthetic over a dataset it did not write: refused, the dataset untouched
    other = tmp_path / "other_dataset"
    (other / "data").mkdir(parents=True)
    (other / "train.txt").write_text("guid,tag\n1,positive\n")
    (other / "data" / "1.txt").write_text("a real caption")
    before = _tree(other)
    _one_error_line(mmsa("datasets", "make-synthetic", other, "--posts", "20", check=False), 2, "not written by mmsa")
    assert _tree(other) == before
    # over its own set: rewritten, with no post of the larger earlier set left mixed in
    own = tmp_path / "own"
    mmsa("datasets", "make-synthetic", own, "--posts", "30", "--image-size", "16")
    (own / "my_notes.md").write_text("kept")  # not the project's: stays
    mmsa("datasets", "make-synthetic", own, "--posts", "12", "--image-size", "16")
    ids = {int(f.split(".")[0]) for f in os.listdir(own / "data")}
    assert max(ids) <= 12 and (own / "my_notes.md").read_text() == "kept"


def test_features_and_reproduce_refuse_folders_they_did_not_create(dataset, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    proc = mmsa("features", "extract", "--encoder", "mobilenet_v2", "--data-dir", dataset, "--out", mine, check=False)
    _one_error_line(proc, 2, "not written by mmsa")
    (mine / "bert_resnet").mkdir()
    (mine / "bert_resnet" / "table4").mkdir()
    (mine / "bert_resnet" / "table4" / "draft.md").write_text("keep")
    proc = mmsa("reproduce", "bert_resnet/table4", "--smoke", "--out", mine, check=False)
    _one_error_line(proc, 2, "not written by mmsa")
    assert (mine / "thesis.tex").read_text() == "keep"
    assert os.listdir(mine / "bert_resnet" / "table4") == ["draft.md"]


def test_convert_alexnet_never_unpickles_code(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    crafted = np.empty((), dtype=object)
    crafted[()] = {"conv1": Payload()}
    np.save(tmp_path / "crafted.npy", crafted, allow_pickle=True)
    proc = mmsa("convert-alexnet", tmp_path / "crafted.npy", tmp_path / "out.weights.h5", check=False)
    _one_error_line(proc, 1, "refused posix.system")
    assert not marker.exists() and not (tmp_path / "out.weights.h5").exists()


# ============================================================================ the dataset root is a wall
def test_a_symlink_leading_outside_the_dataset_is_refused_and_counted(tmp_path):
    data = tmp_path / "data"
    mmsa("datasets", "make-synthetic", data, "--posts", "60", "--image-size", "16", "--seed", "4")
    secret = tmp_path / "secret.txt"
    secret.write_text("zanzibarpassword zanzibarpassword zanzibarpassword")
    captions = sorted((data / "data").glob("*.txt"))[:3]
    for c in captions:
        c.unlink()
        c.symlink_to(secret)
    jpg = sorted((data / "data").glob("*.jpg"))[0]
    outside_image = tmp_path / "outside.jpg"
    outside_image.write_bytes(jpg.read_bytes())
    jpg.unlink()
    jpg.symlink_to(outside_image)
    proc = mmsa("datasets", "describe", data, "--format", "mvsa", "--json")
    assert json.loads(proc.stdout)["problems"]["outside_path"] == 4
    out = tmp_path / "run"
    mmsa("train", *TINY, "--data-dir", data, "--out", out, "--epochs", "1")
    assert "zanzibarpassword" not in (out / "tokenizer.json").read_text(encoding="utf-8")
    assert json.loads((out / "data_report.json").read_text())["counts"]["outside_path"] == 4
    # the user may say so
    proc = mmsa("datasets", "describe", data, "--format", "mvsa", "--json", "--allow-outside-paths")
    assert "outside_path" not in json.loads(proc.stdout)["problems"]


# ============================================================================ runs know their data
def _interrupted_run(dataset, out, at_epoch: int = 1):
    """A run interrupted after `at_epoch` epochs (as Ctrl-C would), trained in this process."""
    import keras

    from mmsa_keras.app.config import TrainConfig
    from mmsa_keras.app.training import train

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == at_epoch:
                raise KeyboardInterrupt

    config = TrainConfig(
        model="native_cat",
        data_dir=str(dataset),
        out=str(out),
        epochs=2,
        image_size=32,
        batch_size=16,
        sequence_length=16,
        verbose=0,
    )
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[Stop()])


def test_resuming_on_changed_data_asks_for_force(tmp_path):
    data = tmp_path / "data"
    mmsa("datasets", "make-synthetic", data, "--posts", "60", "--image-size", "32", "--seed", "5")
    out = tmp_path / "run"
    _interrupted_run(data, out)
    flip = {"positive": "negative", "negative": "positive", "neutral": "positive"}
    lines = (data / "train.txt").read_text().splitlines()
    flipped = [lines[0]] + [f"{ln.split(',')[0]},{flip[ln.split(',')[1]]}" for ln in lines[1:21]] + lines[21:]
    (data / "train.txt").write_text("\n".join(flipped) + "\n")
    args = ["train", "--model", "native_cat", "--data-dir", data, "--out", out, "--epochs", "2"]
    args += ["--image-size", "32", "--batch-size", "16", "--sequence-length", "16"]
    line = _one_error_line(mmsa(*args, check=False), 1, "changed since", "--force")
    assert "posts changed" in line
    proc = mmsa(*args, "--force")
    assert "trained in" in proc.stdout


def test_a_torn_history_and_damaged_run_files_are_named_and_a_rerun_recovers(tmp_path):
    data = tmp_path / "data"
    mmsa("datasets", "make-synthetic", data, "--posts", "60", "--image-size", "32", "--seed", "6")
    out = tmp_path / "run"
    _interrupted_run(data, out)
    history = out / "history.csv"
    text = history.read_text()
    history.write_text(text + text.splitlines()[-1][:7])  # a second row cut mid-line
    args = ["train", "--model", "native_cat", "--data-dir", data, "--out", out, "--epochs", "2"]
    args += ["--image-size", "32", "--batch-size", "16", "--sequence-length", "16"]
    proc = mmsa(*args)
    assert "trained in" in proc.stdout
    rows = history.read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"] and len({len(r.split(",")) for r in rows}) == 1
    # an empty splits.json: named, and made again from the seed
    metrics = json.loads((out / "metrics.json").read_text())["test"]["accuracy"]
    (out / "splits.json").write_text("")
    proc = mmsa("evaluate", out, "--json")
    assert "splits.json" in proc.stderr and json.loads(proc.stdout)["accuracy"] == metrics
    # model.keras cut short: evaluate names it; the same train command trains it again
    export = tmp_path / "export"
    mmsa("export", out, export)
    model = out / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    _one_error_line(mmsa("evaluate", out, check=False), 1, "model.keras", "damaged or cut short")
    proc = mmsa(*args)
    assert "trains again" in proc.stdout and "trained in" in proc.stdout
    # an export whose variables were cut short
    variables = export / "variables" / "variables.data-00000-of-00001"
    variables.write_bytes(variables.read_bytes()[:100])
    _one_error_line(mmsa("predict", export, "--text", "hi", check=False), 1, "variables", "mmsa export")


def test_a_failed_export_leaves_nothing_behind(run, tmp_path, monkeypatch):
    """A full disk while exporting (ENOSPC from the writer): one error, no temporary folder, no export."""
    import errno

    from data_pipelines.pipeline import Preprocessor
    from mmsa_keras.app.export import export_run
    from mmsa_keras.errors import RunError

    def full(self, directory):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Preprocessor, "save", full)
    out = tmp_path / "export"
    with pytest.raises(RunError, match="no space left"):
        export_run(str(run), str(out))
    assert os.listdir(tmp_path) == []


def test_predict_csv_prints_the_rows_before_an_oversized_field(run, tmp_path):
    export = tmp_path / "export"
    mmsa("export", run, export)
    posts = tmp_path / "posts.csv"
    big = "x" * (17 * 1024 * 1024)
    posts.write_text(f'id,text\na,so happy\nb,so sad\nc,"{big}"\nd,fine\n')
    proc = mmsa("predict", export, "--csv", posts, check=False)
    _one_error_line(proc, 1, f"{posts}:4", "unreadable CSV row")
    assert [ln.split("\t")[0] for ln in proc.stdout.splitlines()[1:]] == ["a", "b"]
