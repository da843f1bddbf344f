"""The readers on the larger real data beside the repository (`../shared/data`, slow: `.ci/run`'s second step)."""

from __future__ import annotations

import os

import pytest

from data_pipelines.datasets import load_dataset
from data_pipelines.report import DataReport

pytestmark = pytest.mark.slow


def test_the_300_post_mvsa_sample(shared_data):
    report = DataReport(max_messages=0)
    ds = load_dataset(os.path.join(shared_data, "mvsa_single_sample"), "mvsa", report=report)
    assert len(ds["all"]) == 300
    assert ds.class_counts() == {"negative": 90, "neutral": 60, "positive": 150}
    assert report.count("encoding_fallback") == 73  # the sample's GB18030 captions, all of them
    assert {e["message"] for e in report.events["encoding_fallback"]} == {"decoded as gb18030"}


def test_the_twitter_sample(shared_data):
    report = DataReport(max_messages=0)
    path = os.path.join(shared_data, "twitter_sentiment_sample", "Twitter_Data_sample.csv")
    ds = load_dataset(path, "twitter_csv", report=report)
    assert ds.class_counts() == {"negative": 914, "neutral": 1524, "positive": 1829}
    assert report.counts() == {"dropped_row": 1} and report.events["dropped_row"][0]["line"] == 167
    assert len({p.id for p in ds["all"]}) == 4267


def test_the_protocol_a_training_split(shared_data):
    report = DataReport(max_messages=0)
    ds = load_dataset(os.path.join(shared_data, "mvsa_single_train"), "mvsa", report=report)
    assert ds.class_counts() == {"negative": 1088, "neutral": 376, "positive": 2147}
    assert "outside_path" not in report.counts()
