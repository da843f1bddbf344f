import json
import os

import pytest

from data_pipelines.datasets import load_dataset
from data_pipelines.images import scan_images
from data_pipelines.report import DataReport
from data_pipelines.text_io import decode_caption
from tests.data_pipelines.bad_input import make_bad_mvsa


def test_decode_caption_falls_back_and_counts():
    report = DataReport()
    assert decode_caption("héllo".encode(), "a.txt", report) == "héllo"
    assert decode_caption(b"\xef\xbb\xbfbom", "b.txt", report) == "bom"
    assert report.count("encoding_fallback") == 0
    assert decode_caption("caf\u00e9 \u2013".encode("cp1252"), "c.txt", report) == "caf\u00e9 \u2013"
    assert decode_caption(b"x\x81", "d.txt", report) == "x\x81"  # neither GB18030 nor cp1252: latin-1
    assert decode_caption("“I’m fine” 好".encode("gb18030"), "e.txt", report) == "“I’m fine” 好"
    assert decode_caption(b"\xa1\xafsmile", "f.txt", report) == "’smile"  # GBK A1AF is ’, not cp1252's ¡¯
    assert decode_caption("hi ’".encode("utf-16"), "g.txt", report) == "hi ’"
    assert report.count("encoding_fallback") == 5
    assert [e["message"] for e in report.events["encoding_fallback"]] == [
        "decoded as cp1252",
        "decoded as latin-1",
        "decoded as gb18030",
        "decoded as gb18030",
        "decoded as utf-16",
    ]


def test_mvsa_reader_on_real_posts(mvsa_sample_dir):
    report = DataReport(max_messages=0)
    ds = load_dataset(mvsa_sample_dir, "mvsa", report=report)
    assert len(ds["all"]) == 32
    assert ds.class_counts() == {"negative": 10, "neutral": 8, "positive": 14}
    assert report.count("encoding_fallback") == 12  # the fixture's GB18030 captions, all of them
    assert {e["message"] for e in report.events["encoding_fallback"]} == {"decoded as gb18030"}
    assert not any(bad in (p.text or "") for p in ds["all"] for bad in ("¡¯", "¡°", "¡­"))
    assert all(p.image_path for p in ds["all"])
    with open(os.path.join(mvsa_sample_dir, "clmlf_style_split.json")) as f:
        reference = {str(r["id"]): r["text"] for r in json.load(f)}
    post = next(p for p in ds["all"] if p.id == "3")
    assert post.text == " ".join(reference["3"].split())


def test_every_kind_of_bad_input_is_reported_and_survived(tmp_path, capsys):
    ids = make_bad_mvsa(str(tmp_path))
    report = DataReport()
    ds = load_dataset(str(tmp_path), "mvsa", report=report)
    posts = {p.id: p for p in ds["all"]}
    # label rows: wrong field count and unknown label are skipped with file and line
    assert "9" not in posts and "10" not in posts
    assert report.events["unknown_label"][0]["line"] == int(ids["unknown_label_line"])
    assert report.events["bad_row"][0]["line"] == int(ids["bad_row_line"])
    assert report.events["bad_row"][0]["file"].endswith("train.txt")
    # captions
    assert posts[ids["cp1252"]].text == "café naïve – déjà vu"
    assert report.count("encoding_fallback") == 1
    assert posts[ids["empty_caption"]].text is None and report.count("empty_text") == 1
    # images: missing at read time, undecodable ones at scan time
    assert posts[ids["missing_image"]].image_path is None and report.count("missing_image") == 1
    dropped = scan_images(list(posts.values()), report, verbose=False)
    assert dropped == 3
    assert report.count("empty_image") == 1 and report.count("undecodable_image") == 2
    for key in ("truncated", "zero_byte", "text_as_jpg"):
        assert posts[ids[key]].image_path is None
    err = capsys.readouterr().err
    assert "train.txt:10" in err and "train.txt:11" in err and "3.jpg" in err
    summary = report.summary()
    assert "zero-byte image file" in summary and "unknown label" in summary


def test_pipeline_runs_over_bad_input_with_presence_flags(tmp_path):
    from data_pipelines.pipeline import Preprocessor

    make_bad_mvsa(str(tmp_path))
    report = DataReport(max_messages=0)
    posts = load_dataset(str(tmp_path), "mvsa", report=report)["all"]
    scan_images(posts, report, verbose=False)
    pre = Preprocessor(image_size=16, sequence_length=8).fit(posts, verbose=False)
    inputs, labels = next(iter(pre.make_dataset(posts, batch_size=len(posts), training=True, shuffle=False)))
    present = dict(zip([p.id for p in posts], inputs["image_present"].numpy()))
    assert present["1"] == 1.0 and present["3"] == 0.0 and present["4"] == 0.0 and present["6"] == 0.0
    text_present = dict(zip([p.id for p in posts], inputs["text_present"].numpy()))
    assert text_present["8"] == 0.0 and text_present["1"] == 1.0


def test_table_reader_csv_with_multiline_fields_and_bad_rows(tmp_path):
    (tmp_path / "img.jpg").write_bytes(b"")
    content = (
        "id,text,image_path,label\n"
        'a,"first line\nsecond line",img.jpg,positive\n'
        "b,plain,,negative\n"
        "c,too,many,fields,neutral\n"
        "d,odd label,,thrilled\n"
        "a,duplicate,,neutral\n"
        "e,missing image,nothere.jpg,neutral\n"
    )
    (tmp_path / "posts.csv").write_text(content, encoding="utf-8")
    report = DataReport(max_messages=0)
    ds = load_dataset(
        str(tmp_path / "posts.csv"), "table", report=report, class_names=("negative", "neutral", "positive")
    )
    posts = {p.id: p for p in ds["all"]}
    assert set(posts) == {"a", "b", "e"}
    assert posts["a"].text == "first line second line" and posts["a"].label == 2
    assert posts["b"].image_path is None
    assert report.events["bad_row"][0]["line"] == 5  # the multi-line field shifts line numbers
    assert report.events["unknown_label"][0]["line"] == 6
    assert report.count("duplicate_id") == 1 and report.count("missing_image") == 1


def test_table_reader_jsonl_with_split_column(tmp_path):
    rows = [
        {"id": 1, "text": "good", "label": "positive", "split": "train"},
        {"id": 2, "text": "bad", "label": "negative", "split": "test"},
        {"id": 3, "text": "meh", "label": 1, "split": "train"},
    ]
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n", encoding="utf-8")
    report = DataReport(max_messages=0)
    ds = load_dataset(str(path), "table", report=report)
    assert sorted(ds.splits) == ["test", "train"]
    assert [p.label for p in ds["train"]] == [2, 1]
    assert report.events["bad_row"][0]["line"] == 4


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset format"):
        load_dataset(str(tmp_path), "nope")


def test_the_json_layout_reads_the_caption_files_not_the_lossy_json_text(mvsa_sample_dir, tmp_path):
    """The public protocol-A split JSON files carry the non-UTF-8 captions lossily; with `data/ID.txt`
    beside them, the caption file is read (as in the other layouts) and each differing post is counted;
    `--option text_source=json` keeps the JSON's text."""
    import shutil

    root = tmp_path / "clmlf"
    shutil.copytree(os.path.join(mvsa_sample_dir, "data"), root / "data")
    shutil.copy(os.path.join(mvsa_sample_dir, "clmlf_style_split.json"), root / "test.json")
    files = {p.id: p.text for p in load_dataset(mvsa_sample_dir, "mvsa", report=DataReport(max_messages=0))["all"]}
    report = DataReport(max_messages=0)
    ds = load_dataset(str(root), "mvsa", report=report)
    assert {p.id: p.text for p in ds["test"]} == files  # the same text as the train.txt layout reads
    assert report.count("json_text_differs") == 12 and "Imran’s" in next(p.text for p in ds["test"] if p.id == "203")
    lossy = load_dataset(str(root), "mvsa", report=DataReport(max_messages=0), text_source="json")
    with open(root / "test.json") as f:
        want = {str(r["id"]): " ".join(r["text"].split()) for r in json.load(f)}
    assert {p.id: p.text for p in lossy["test"]} == want
