import os
import shutil

import tensorflow_datasets as tfds

import data_pipelines.tfds_builders  # noqa: F401  (registers the builders)
from data_pipelines.datasets import load_dataset
from data_pipelines.report import DataReport
from tests.conftest import FIXTURES


def _prepare(name, manual_dir, data_dir):
    builder = tfds.builder(name, data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return [
        {k: (v.decode() if isinstance(v, bytes) and k != "image" else v) for k, v in ex.items()}
        for ex in tfds.as_numpy(tfds.load(name, data_dir=str(data_dir), split="train"))
    ]


def test_mvsa_single_tfds_matches_the_reader(mvsa_sample_dir, tmp_path):
    examples = _prepare("mvsa_single", mvsa_sample_dir, tmp_path)
    posts = load_dataset(mvsa_sample_dir, "mvsa", report=DataReport(max_messages=0))["all"]
    assert len(examples) == len(posts) == 32
    by_id = {e["id"]: e for e in examples}
    for p in posts:
        e = by_id[p.id]
        assert e["label"] == p.label and e["text"] == (p.text or "")
        with open(p.image_path, "rb") as f:
            assert e["image"] == f.read()


def test_mvsa_multiple_protocol_b_config(tmp_path):
    root = tmp_path / "mvsa_multiple"
    os.makedirs(root / "data")
    rows = [
        "ID\ttext,image\ttext,image\ttext,image",
        "1\tpositive,positive\tpositive,positive\tneutral,positive",
        "2\tneutral,negative\tneutral,negative\tneutral,negative",
        "3\tnegative,negative\tnegative,negative\tnegative,negative",
    ]
    (root / "labelResultAll.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    shutil.copy(os.path.join(FIXTURES, "mvsa_single_real", "data", "3.jpg"), root / "data" / "1.jpg")
    for i in (1, 2, 3):
        (root / "data" / f"{i}.txt").write_text(f"post {i}", encoding="utf-8")
    a = _prepare("mvsa_multiple/protocol_a", root, tmp_path / "a")
    b = _prepare("mvsa_multiple/protocol_b", root, tmp_path / "b")
    assert sorted((e["id"], e["label"]) for e in a) == [("1", 2), ("2", 0), ("3", 0)]
    assert sorted((e["id"], e["label"]) for e in b) == [("1", 2), ("3", 0)]
    assert {e["id"]: len(e["image"]) > 0 for e in a} == {"1": True, "2": False, "3": False}


def test_twitter_tfds_matches_the_reader(tmp_path):
    manual = os.path.join(FIXTURES, "twitter_sentiment_real")
    examples = _prepare("twitter_sentiment", manual, tmp_path)
    posts = load_dataset(manual, "twitter_csv", report=DataReport(max_messages=0))["all"]
    assert sorted((e["id"], e["text"], e["label"]) for e in examples) == sorted((p.id, p.text, p.label) for p in posts)
