import hashlib
import os

from data_pipelines.datasets import load_dataset
from data_pipelines.datasets.synthetic import make_synthetic
from data_pipelines.report import DataReport


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            h.update(name.encode())
            with open(os.path.join(dirpath, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def test_same_seed_gives_identical_files(tmp_path):
    a = make_synthetic(str(tmp_path / "a"), posts=40, image_size=16, seed=5)
    b = make_synthetic(str(tmp_path / "b"), posts=40, image_size=16, seed=5)
    make_synthetic(str(tmp_path / "c"), posts=40, image_size=16, seed=6)
    assert a["classes"] == b["classes"]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_synthetic_set_is_read_by_the_mvsa_reader_with_missing_modalities(synthetic_dir):
    report = DataReport()
    ds = load_dataset(synthetic_dir, "mvsa", report=report)
    posts = ds["all"]
    assert len(posts) == 240
    assert ds.class_names == ("negative", "neutral", "positive")
    assert all(p.label in (0, 1, 2) for p in posts)
    no_image = [p for p in posts if not p.has_image]
    no_text = [p for p in posts if not p.has_text]
    assert no_image and no_text
    # every missing modality is reported, never silent
    assert report.count("missing_image") == len(no_image)
    assert report.count("missing_text") + report.count("empty_text") == len(no_text)
    # every class occurs, with the documented skew towards positive
    counts = ds.class_counts()
    assert min(counts.values()) > 20 and counts["positive"] == max(counts.values())


def test_cli_make_synthetic(tmp_path, capsys):
    from mmsa_keras.app.cli import main

    assert (
        main(["datasets", "make-synthetic", str(tmp_path / "s"), "--posts", "20", "--image-size", "16", "--seed", "1"])
        == 0
    )
    assert "wrote 20 posts" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "s" / "train.txt")
