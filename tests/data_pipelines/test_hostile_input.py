"""Hostile and careless input (issue: every command survives it): nothing crashes, hangs or reads outside."""

from __future__ import annotations

import json
import os
import struct
import threading

import numpy as np
import pytest
import tensorflow as tf

from data_pipelines.datasets import load_dataset
from data_pipelines.images import check_image_file, safe_decode_batch, scan_images
from data_pipelines.report import DataReport
from tests.data_pipelines.bad_input import image_bytes, jpeg_bytes


def png_bomb(width=20000, height=20000) -> bytes:
    """A small valid-looking PNG whose header announces width x height pixels (7.3 GB for 20000²)."""
    raw = image_bytes("PNG", size=8)
    return raw[:16] + struct.pack(">II", width, height) + raw[24:]


def _guid_dataset(root, rows):
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "train.txt").write_text("guid,tag\n" + "\n".join(rows) + "\n")


def _read_with_timeout(fn, seconds=30):
    """Run fn in a thread; a FIFO opened for reading would block forever."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "reading the dataset hung (a FIFO or device was opened)"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_folders_fifos_and_devices_where_files_should_be(tmp_path):
    root = tmp_path / "mvsa"
    _guid_dataset(root, ["1,positive", "2,negative", "3,neutral", "4,positive"])
    data = root / "data"
    (data / "1.jpg").write_bytes(jpeg_bytes())
    (data / "1.txt").write_bytes(b"a good post")
    (data / "2.jpg").mkdir()  # a folder named like an image
    (data / "2.txt").write_bytes(b"folder as image")
    (data / "3.jpg").write_bytes(jpeg_bytes())
    os.mkfifo(data / "3.txt")  # a FIFO where the caption should be: opening it would block
    os.symlink("/dev/zero", data / "4.jpg")  # a device: reading it never ends
    os.mkfifo(data / "4.txt")
    report = DataReport(max_messages=0)

    def read():
        ds = load_dataset(str(root), "mvsa", report=report)
        scan_images(ds.all_posts(), report, verbose=False)
        return ds

    ds = _read_with_timeout(read)
    posts = {p.id: p for p in ds.all_posts()}
    assert posts["1"].has_image and posts["1"].has_text
    assert not posts["2"].has_image and not posts["3"].has_text and not posts["4"].has_image
    kinds = {e["file"]: e["message"] for e in report.events["not_a_file"]}
    assert any("a folder" in m for f, m in kinds.items() if f.endswith("2.jpg"))
    assert any("FIFO" in m for f, m in kinds.items() if f.endswith("3.txt"))
    assert any("device" in m for f, m in kinds.items() if f.endswith("4.jpg"))


def test_a_caption_over_one_megabyte_is_cut_and_counted(tmp_path):
    root = tmp_path / "mvsa"
    _guid_dataset(root, ["1,positive"])
    (root / "data" / "1.jpg").write_bytes(jpeg_bytes())
    (root / "data" / "1.txt").write_bytes(("happy " * 400_000).encode())  # 2.4 MB
    report = DataReport(max_messages=0)
    post = load_dataset(str(root), "mvsa", report=report).all_posts()[0]
    assert report.count("caption_truncated") == 1 and len(post.text) <= 1024 * 1024


def test_an_image_announcing_too_many_pixels_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    kind, message = check_image_file(str(bomb))
    assert kind == "oversized_image" and "20000x20000" in message and "before decoding" in message
    # in the serving graph: that post alone loses its image; the batch runs
    good = image_bytes("PNG", size=16)
    images, present = tf.function(lambda b: safe_decode_batch(b, 16))(tf.constant([good, png_bomb(), b""]))
    assert present.numpy().tolist() == [1.0, 0.0, 0.0] and float(tf.reduce_sum(images[1])) == 0.0
    for fmt_bomb in (png_bomb(70000, 70000), b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 30):
        (tmp_path / "b").write_bytes(fmt_bomb)
        assert check_image_file(str(tmp_path / "b"))[0] == "oversized_image"


def test_ids_that_leave_the_dataset_folder_are_refused(tmp_path):
    root = tmp_path / "mvsa"
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.txt").write_text("private")
    _guid_dataset(root, ["1,positive", "../secret/x,negative", f"{outside}/x,neutral", "..,positive"])
    (root / "data" / "1.jpg").write_bytes(jpeg_bytes())
    (root / "data" / "1.txt").write_bytes(b"fine")
    report = DataReport(max_messages=0)
    ds = load_dataset(str(root), "mvsa", report=report)
    assert [p.id for p in ds.all_posts()] == ["1"]
    assert report.count("outside_path") == 3
    assert {e["line"] for e in report.events["outside_path"]} == {3, 4, 5}
    assert all("private" not in (p.text or "") for p in ds.all_posts())


def test_table_image_paths_outside_the_folder_need_allow_outside_paths(tmp_path):
    folder = tmp_path / "table"
    folder.mkdir()
    (folder / "in.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "out.jpg").write_bytes(jpeg_bytes())
    (folder / "posts.csv").write_text(
        f"id,text,image_path,label\na,x,in.jpg,positive\nb,y,../out.jpg,negative\nc,z,{tmp_path / 'out.jpg'},neutral\n"
    )
    report = DataReport(max_messages=0)
    ds = load_dataset(str(folder), "table", report=report)
    posts = {p.id: p for p in ds.all_posts()}
    assert posts["a"].has_image and not posts["b"].has_image and not posts["c"].has_image
    assert report.count("outside_path") == 2 and "--allow-outside-paths" in report.events["outside_path"][0]["message"]
    allowed = load_dataset(str(folder), "table", report=DataReport(max_messages=0), allow_outside_paths=True)
    assert all(p.has_image for p in allowed.all_posts())


def _table(tmp_path, text, name="posts.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_table_integer_labels_keep_their_own_classes(tmp_path):
    five = load_dataset(
        _table(tmp_path, "id,text,label\n" + "".join(f"{i},t{i},{i % 5}\n" for i in range(10))),
        "table",
        report=DataReport(max_messages=0),
    )
    assert five.class_names == ("0", "1", "2", "3", "4")
    two = load_dataset(
        _table(tmp_path, "id,text,label\na,x,0\nb,y,1\n", "two.csv"), "table", report=DataReport(max_messages=0)
    )
    assert two.class_names == ("0", "1")
    named = load_dataset(
        _table(tmp_path, "id,text,label\na,x,0\nb,y,4\n", "named.csv"),
        "table",
        report=DataReport(max_messages=0),
        class_names="awful,bad,meh,good,great",
    )
    assert named.class_names == ("awful", "bad", "meh", "good", "great")
    assert [p.label for p in named.all_posts()] == [0, 4]


def test_table_unknown_or_null_labels_are_reported_and_skipped_never_a_class(tmp_path):
    report = DataReport(max_messages=0)
    ds = load_dataset(
        _table(tmp_path, "id,text,label\na,x,positive\nb,y,\nc,z,null\nd,w,ecstatic\ne,v,negative\n"),
        "table",
        report=report,
    )
    assert ds.class_names == ("negative", "neutral", "positive")  # 'ecstatic' did not become a class
    assert [p.id for p in ds.all_posts()] == ["a", "e"]
    assert report.count("no_label") == 2 and report.events["unknown_label"][0]["line"] == 5
    # with the classes given, an unknown name is an unknown label (line named), not a new class
    report = DataReport(max_messages=0)
    ds = load_dataset(
        _table(tmp_path, "id,text,label\na,x,positive\nd,w,ecstatic\n", "b.csv"),
        "table",
        report=report,
        class_names="negative,neutral,positive",
    )
    assert [p.id for p in ds.all_posts()] == ["a"] and report.events["unknown_label"][0]["line"] == 3


def test_table_fields_up_to_sixteen_megabytes_parse(tmp_path):
    caption = "word " * 400_000  # 2 MB, well over the csv module's 131,072 default
    ds = load_dataset(
        _table(tmp_path, f'id,text,label\na,"{caption}",positive\nb,short,negative\n'),
        "table",
        report=DataReport(max_messages=0),
    )
    assert len(ds.all_posts()) == 2 and len(ds.all_posts()[0].text) > 1_000_000


def test_a_header_only_csv_says_no_labelled_posts(tmp_path):
    with pytest.raises(ValueError, match="no labelled posts"):
        load_dataset(_table(tmp_path, "id,text,image_path,label\n"), "table", report=DataReport(max_messages=0))


def test_real_posts_report_their_captions_as_gb18030(mvsa_sample_dir):
    from data_pipelines.describe import describe, format_description

    d = describe(mvsa_sample_dir, "mvsa", check_images=False, verbose=False)
    assert d["encodings"] == {"gb18030": 12}
    assert "gb18030 12" in format_description(d)


def test_serving_decode_never_raises_on_any_bytes():
    rng = np.random.default_rng(0)
    junk = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in (1, 10, 1000)]
    good = jpeg_bytes(16)
    batch = [good[: len(good) // 3], b"\x89PNG\r\n\x1a\n" + b"\0" * 30, b"GIF89a", b"BM" + b"\xff" * 30, *junk, good]
    images, present = tf.function(lambda b: safe_decode_batch(b, 8))(tf.constant(batch))
    assert images.shape == (len(batch), 8, 8, 3) and present.numpy()[-1] == 1.0
    assert json.dumps(present.numpy().tolist())


def test_a_quote_that_never_closes_or_a_huge_field_loses_no_other_row(tmp_path):
    """issue 21: the rest of the file used to vanish into one bad row; now only the broken row goes, counted
    with its line, and reading resumes on the next record."""
    from data_pipelines.describe import describe

    lines = ["clean_text,category"] + [f"tweet number {i},1" for i in range(60)]
    lines[10] = '"an unterminated start of a tweet,1'
    lines[20] = '"a quoted tweet\nthat spans two lines",0'
    (tmp_path / "tw").mkdir()
    (tmp_path / "tw" / "tweets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = DataReport(max_messages=0)
    ds = load_dataset(str(tmp_path / "tw"), "twitter_csv", report=report)
    assert len(ds["all"]) == 59  # 60 rows, one broken
    assert report.counts() == {"unclosed_quote": 1} and report.events["unclosed_quote"][0]["line"] == 11
    assert any(p.text == "a quoted tweet that spans two lines" for p in ds["all"])
    # a table whose quoted field holds 20 MB with newlines: that row alone is skipped
    rows = ["id,text,image_path,label"] + [f"{i},post {i},,positive" for i in range(80)]
    big = ("word " * 200 + "\n") * 20_500
    rows[31] = f'30,"{big}",,negative'
    (tmp_path / "posts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = describe(str(tmp_path / "posts.csv"), "table", check_images=False, verbose=False)
    assert d["total"] == 79 and d["problems"] == {"oversized_field": 1} and d["dropped_rows"] == 1
    assert d["problem_examples"]["oversized_field"][0]["line"] == 32
