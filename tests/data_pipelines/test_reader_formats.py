"""Every reader on the shared samples or on small fixtures built from its format's documentation."""

import json
import os

from data_pipelines.datasets import load_dataset
from data_pipelines.datasets.mvsa import combine, majority, paper002_split
from data_pipelines.datasets.vso import anp_label
from data_pipelines.describe import describe, validate
from data_pipelines.images import scan_images
from data_pipelines.post import Post
from data_pipelines.report import DataReport
from tests.data_pipelines.bad_input import write_image_defects

IMAGE_DEFECTS = {"good": "1", "truncated": "2", "zero_byte": "3", "png_as_jpg": "4", "cmyk": "5", "gif": "6"}


def _scan_outcome(posts, report):
    """After the scan: which of the defect posts still have an image."""
    scan_images(posts, report, verbose=False)
    return {p.id.split("/")[-1]: p.image_path is not None for p in posts}


def _assert_defects_handled(kept, report):
    assert kept["1"] and kept["4"] and kept["5"] and kept["6"]  # good, PNG named .jpg, CMYK, GIF decode
    assert not kept["2"] and not kept["3"]  # truncated and zero-byte become missing images
    assert report.count("undecodable_image") >= 1 and report.count("empty_image") >= 1


# ---------------------------------------------------------------- MVSA
def test_protocol_rules():
    assert majority(["positive", "positive", "neutral"]) == "positive"
    assert majority(["positive", "negative", "neutral"]) is None
    assert combine("neutral", "positive", "A") == "positive"
    assert combine("negative", "neutral", "A") == "negative"
    assert combine("positive", "negative", "A") is None
    assert combine("neutral", "positive", "B") is None and combine("negative", "negative", "B") == "negative"


def _write_original(root, rows, crlf=False, bom=False):
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    text = ("\r\n" if crlf else "\n").join(rows) + "\n"
    with open(os.path.join(root, "labelResultAll.txt"), "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def test_mvsa_original_single_protocols_a_and_b(tmp_path):
    rows = [
        "ID\ttext,image",
        "1\tpositive,positive",
        "2\tneutral,negative",
        "3\tpositive,negative",
        "4\tneutral,neutral",
        "5\tnegative,positive",
        "6\tpositive,neutral",
        "7\tpositive",
        "8\tgreat,positive",
        "1\tnegative,negative",
        "9\tnegative,negative",
    ]
    _write_original(str(tmp_path), rows, crlf=True, bom=True)
    write_image_defects(str(tmp_path / "data"), IMAGE_DEFECTS)
    for i in range(1, 10):
        (tmp_path / "data" / f"{i}.txt").write_bytes(f"caption {i}".encode())
    report = DataReport(max_messages=0)
    a = load_dataset(str(tmp_path), "mvsa", report=report, protocol="A")
    labels = {p.id: p.label for p in a["all"]}
    assert labels == {"1": 2, "2": 0, "4": 1, "6": 2, "9": 0}
    post = next(p for p in a["all"] if p.id == "2")
    assert (post.text_label, post.image_label) == (1, 0)
    assert report.count("dropped_row") == 2  # 3 and 5: positive against negative
    assert report.count("bad_row") == 1 and report.events["bad_row"][0]["line"] == 8
    assert report.count("unknown_label") == 1 and report.events["unknown_label"][0]["line"] == 9
    assert report.count("duplicate_id") == 1 and report.events["duplicate_id"][0]["line"] == 10
    assert report.count("missing_image") == 1  # id 9 has no image
    b = load_dataset(str(tmp_path), "mvsa", report=DataReport(max_messages=0), protocol="B")
    assert {p.id: p.label for p in b["all"]} == {"1": 2, "4": 1, "9": 0}
    kept = _scan_outcome(
        a["all"]
        + [
            Post("3", "x", str(tmp_path / "data" / "3.jpg"), 0),
            Post("5", "x", str(tmp_path / "data" / "5.jpg"), 0),
            Post("4b", "x", str(tmp_path / "data" / "4.jpg"), 0),
        ],
        report,
    )
    assert kept["1"] and not kept["2"] and not kept["3"] and kept["5"]


def test_mvsa_original_multiple_majority_vote(tmp_path):
    rows = [
        "ID\ttext,image\ttext,image\ttext,image",
        "1\tpositive,positive\tpositive,neutral\tneutral,positive",  # text pos (2/3), image pos → pos
        "2\tpositive,negative\tnegative,neutral\tneutral,positive",  # text: no majority → invalid
        "3\tneutral,negative\tneutral,negative\tpositive,neutral",
    ]  # neutral + negative → negative
    _write_original(str(tmp_path), rows)
    report = DataReport(max_messages=0)
    ds = load_dataset(str(tmp_path), "mvsa", report=report)
    assert {p.id: p.label for p in ds["all"]} == {"1": 2, "3": 0}
    assert "no majority" in report.events["dropped_row"][0]["message"]


def test_mvsa_json_layout_matches_the_guid_layout_on_real_posts(mvsa_sample_dir):
    guid = load_dataset(mvsa_sample_dir, "mvsa", report=DataReport(max_messages=0))
    js = load_dataset(mvsa_sample_dir, "mvsa", report=DataReport(max_messages=0), layout="json")
    assert {p.id: p.label for p in js.all_posts()} == {p.id: p.label for p in guid.all_posts()}
    assert all(p.image_path for p in js.all_posts())


def test_paper002_split_sizes_own_test_set_and_small_data():
    posts = [Post(str(i), "t", None, i % 3) for i in range(4511)]
    split, notes = paper002_split(posts, seed=1)
    assert [len(split[k]) for k in ("train", "validation", "test")] == [3200, 800, 511]
    assert paper002_split(posts, seed=1)[0]["test"][0].id == split["test"][0].id
    assert paper002_split(posts, seed=2)[0]["test"][0].id != split["test"][0].id  # the split seed draws it
    assert "3,200 train / 800 validation / 511 test" in notes[0]
    # a dataset with its own test split keeps it: nothing of it moves into training
    own_test = posts[:450]
    kept, notes = paper002_split(posts[450:], seed=1, own_test=own_test)
    assert kept["test"] == own_test and not {p.id for p in own_test} & {p.id for p in kept["train"]}
    assert [len(kept["train"]), len(kept["validation"])] == [3200, 800] and "kept" in notes[0]
    small, notes = paper002_split(posts[:100])
    assert sum(len(v) for v in small.values()) == 100 and "8:1:1" in notes[0] and "instead" in notes[0]


def test_paper002_split_keeps_the_clmlf_test_file(tmp_path):
    """The CLMLF JSON layout's test split is kept by --split-by paper002 (it used to be drawn into training)."""
    from tests.data_pipelines.bad_input import jpeg_bytes

    (tmp_path / "data").mkdir()
    records = {"train": [], "dev": [], "test": []}
    for i in range(60):
        split = "test" if i < 10 else "dev" if i < 20 else "train"
        records[split].append({"id": str(i), "text": f"post {i}", "emotion_label": i % 3})
        (tmp_path / "data" / f"{i}.jpg").write_bytes(jpeg_bytes(8))
    for split, recs in records.items():
        (tmp_path / f"{split}.json").write_text(json.dumps(recs))
    ds = load_dataset(str(tmp_path), "mvsa", report=DataReport(max_messages=0), split="paper002")
    assert sorted(p.id for p in ds["test"]) == sorted(r["id"] for r in records["test"])
    assert len(ds["train"]) + len(ds["validation"]) == 50 and any("kept" in n for n in ds.notes)


# ---------------------------------------------------------------- Twitter CSV
def test_twitter_csv_on_real_rows(twitter_sample_file):
    report = DataReport(max_messages=0)
    ds = load_dataset(twitter_sample_file, "twitter_csv", report=report)
    assert ds.class_counts() == {"negative": 62, "neutral": 113, "positive": 124}
    assert report.count("dropped_row") == 1 and report.events["dropped_row"][0]["line"] == 167
    assert all(p.image_path is None and p.text for p in ds["all"])
    assert len({p.id for p in ds["all"]}) == 299  # ids are the (multi-line aware) starting lines


def test_twitter_csv_defects(tmp_path):
    content = (
        '\ufeffclean_text,category\r\n"line one\r\nline two",1\r\n,0\r\nno label,\r\nodd,2\r\n'
        "too,many,fields\r\nplain,-1\r\n"
    )
    path = tmp_path / "t.csv"
    path.write_bytes(content.encode("utf-8"))
    report = DataReport(max_messages=0)
    ds = load_dataset(str(path), "twitter_csv", report=report)
    assert [(p.text, p.label) for p in ds["all"]] == [("line one line two", 2), ("plain", 0)]
    assert report.count("dropped_row") == 2 and report.count("unknown_label") == 1
    assert report.events["bad_row"][0]["line"] == 7  # the quoted field spans lines 2-3


# ---------------------------------------------------------------- CrowdFlower
def test_crowdflower_reader(tmp_path):
    col = "which_of_these_sentiment_scores_does_the_above_image_fit_into_best"
    write_image_defects(str(tmp_path / "images"), IMAGE_DEFECTS)
    rows = [
        f"_unit_id,{col},{col}:confidence,imageurl",
        "1,Highly positive,0.9,http://x.org/a/1.jpg",
        "2,Positive,1,http://x.org/a/2.jpg",
        "3,Neutral,0.8,http://x.org/a/3.jpg",
        "4,Negative,1,http://x.org/a/4.jpg",
        "5,Highly negative,0.7,http://x.org/a/5.jpg",
        "6,Positive,0.4,http://x.org/a/6.gif",
        "7,Ecstatic,1,http://x.org/a/7.jpg",
        "8,Neutral",
        "1,Neutral,1,http://x.org/a/1.jpg",
        "9,Positive,1,http://x.org/a/9.jpg",
    ]
    (tmp_path / "polarity.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    report = DataReport(max_messages=0)
    ds = load_dataset(str(tmp_path / "polarity.csv"), "crowdflower", report=report, min_confidence=0.5)
    assert {p.id: p.label for p in ds["all"]} == {"1": 2, "2": 2, "3": 1, "4": 0, "5": 0}
    assert report.count("dropped_row") == 1  # confidence 0.4
    assert report.count("unknown_label") == 1 and report.count("bad_row") == 1
    assert report.count("duplicate_id") == 1 and report.count("missing_image") == 1  # 9.jpg not downloaded
    kept = _scan_outcome(ds["all"] + [Post("6", None, str(tmp_path / "images" / "6.gif"), 2)], report)
    _assert_defects_handled(kept, report)


# ---------------------------------------------------------------- VSO / MVSO
def test_vso_reader_thresholds_text_filter_and_two_classes(tmp_path):
    assert anp_label(0.035) == 2 and anp_label(0.034) == 1 and anp_label(-0.035) == 0
    assert anp_label(0.0, num_classes=2) is None and anp_label(0.5, num_classes=2) == 1
    (tmp_path / "anp_sentiment.csv").write_text(
        "anp,sentiment\nbeautiful_sky,1.5\nnormal_day,0.01\ndark_night,-0.8\n", encoding="utf-8"
    )
    long = "one two three four five six seven eight nine ten"
    meta = [
        "id,anp,title,description,tags",
        f"1,beautiful_sky,Sky,{long},sky",
        f"2,normal_day,Day,{long},",
        f"3,dark_night,Night,{long},",
        "4,dark_night,short,text,",
        f"5,unknown_anp,x,{long},",
        f"1,beautiful_sky,dup,{long},",
        f"6,beautiful_sky,Sky,{long},",
        "7,beautiful_sky",
    ]
    (tmp_path / "metadata.csv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    for anp, stem, kind in (
        ("beautiful_sky", "1", "good"),
        ("normal_day", "2", "cmyk"),
        ("dark_night", "3", "truncated"),
    ):
        write_image_defects(str(tmp_path / "images" / anp), {kind: stem})
    report = DataReport(max_messages=0)
    ds = load_dataset(str(tmp_path), "vso", report=report)
    posts = {p.id: p for p in ds["all"]}
    assert {k: p.label for k, p in posts.items()} == {"1": 2, "2": 1, "3": 0, "6": 2}
    assert posts["1"].text == f"Sky. {long}" and posts["1"].meta["anp_score"] == 1.5
    assert report.count("dropped_row") == 1 and report.count("unknown_label") == 1
    assert report.count("duplicate_id") == 1 and report.count("bad_row") == 1
    assert report.count("missing_image") == 1  # post 6
    two = load_dataset(str(tmp_path), "vso", report=DataReport(max_messages=0), num_classes=2)
    assert two.class_names == ("negative", "positive") and {p.id for p in two["all"]} == {"1", "3", "6"}
    everything = load_dataset(str(tmp_path), "vso", report=DataReport(max_messages=0), min_words=0)
    assert "4" in {p.id for p in everything["all"]}
    kept = _scan_outcome(ds["all"], report)
    assert kept["1"] and kept["2"] and not kept["3"]


# ---------------------------------------------------------------- emotion folders
def test_emotion_folders_with_metadata_and_popularity_split(tmp_path):
    for cls in ("amusement", "fear"):
        write_image_defects(str(tmp_path / cls), IMAGE_DEFECTS)
        for i in range(1, 11):
            stem = str(i)
            if not (tmp_path / cls / f"{stem}.jpg").exists() and not (tmp_path / cls / f"{stem}.gif").exists():
                write_image_defects(str(tmp_path / cls), {"good": stem})
            (tmp_path / cls / f"{stem}.json").write_text(
                json.dumps({"title": f"t{i}", "description": "d", "upvotes": i * 10}), encoding="utf-8"
            )
    (tmp_path / "fear" / "11.txt").write_bytes("caf\xe9".encode("latin-1"))  # text with no image
    report = DataReport(max_messages=0)
    ds = load_dataset(str(tmp_path), "emotion_folders", report=report, split="popularity")
    assert ds.class_names == ("amusement", "fear")
    test_ids = sorted(p.id for p in ds["test"])
    assert test_ids == ["amusement/10", "fear/10"]  # top 10% by upvotes
    assert sorted(p.id for p in ds["validation"]) == ["amusement/9", "fear/9"]
    assert next(p for p in ds.all_posts() if p.id == "fear/3").meta["upvotes"] == 30
    orphan = next(p for p in ds.all_posts() if p.id == "fear/11")
    assert orphan.image_path is None and orphan.text == "café"
    assert report.count("missing_image") == 1 and report.count("encoding_fallback") == 1
    kept = _scan_outcome([p for p in ds.all_posts() if p.id.startswith("amusement/")], report)
    _assert_defects_handled(kept, report)


# ---------------------------------------------------------------- describe / validate
def test_describe_json_on_real_mvsa_posts(mvsa_sample_dir, capsys):
    from mmsa_keras.app.cli import main

    assert main(["datasets", "describe", mvsa_sample_dir, "--format", "mvsa", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total"] == 32 and d["counts"] == {"negative": 10, "neutral": 8, "positive": 14}
    assert d["splits"]["all"]["posts"] == 32 and d["encoding_fallbacks"] > 0 and d["undecodable_images"] == 0


def test_validate_reports_fatal_problems(tmp_path, synthetic_dir, capsys):
    from mmsa_keras.app.cli import main

    assert main(["datasets", "validate", synthetic_dir, "--format", "mvsa"]) == 0
    (tmp_path / "posts.csv").write_text(
        "id,text,image_path,label,split\n1,a,,positive,train\n2,b,,negative,validation\n3,c,,negative,test\n",
        encoding="utf-8",
    )
    assert main(["datasets", "validate", str(tmp_path / "posts.csv"), "--format", "table"]) == 1
    assert "class 'negative' has labelled posts but none in the train split" in capsys.readouterr().out
    empty = describe(str(tmp_path / "posts.csv"), "table", check_images=False, verbose=False)
    assert empty["total"] == 3
    ds = load_dataset(str(tmp_path / "posts.csv"), "table", report=DataReport(max_messages=0))
    ds.splits["test"] = []
    assert "split 'test' has no labelled posts" in validate(ds)


def test_twitter_csv_subsample_is_seeded_and_said(twitter_sample_file):
    """Paper 000 used 8,000 of the CSV's tweets: `subsample=N` draws N rows with a seed, in file order."""
    from data_pipelines.datasets import load_dataset
    from data_pipelines.report import DataReport

    full = load_dataset(twitter_sample_file, "twitter_csv", report=DataReport(max_messages=0))
    part = load_dataset(twitter_sample_file, "twitter_csv", report=DataReport(max_messages=0), subsample=100, seed=3)
    again = load_dataset(twitter_sample_file, "twitter_csv", report=DataReport(max_messages=0), subsample=100, seed=3)
    ids = [p.id for p in part["all"]]
    assert len(ids) == 100 and ids == [p.id for p in again["all"]] and ids == sorted(ids, key=int)
    assert set(ids) < {p.id for p in full["all"]} and "100 of the" in part.notes[0]
    from experiments.tables import load_table

    assert load_table("instagram_wann/baselines").dataset.options == {"subsample": 8000}
