"""The error gallery page (`mmsa_keras.app.gallery`), parsed as a browser would read it."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
from PIL import Image

from data_pipelines.post import Post
from mmsa_keras.app.gallery import most_confident_errors, write_error_gallery


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.posts, self.pairs, self.images, self.scripts, self.text = [], [], [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "post":
            self.posts.append(a)
        if tag == "h2" and a.get("class") == "pair":
            self.pairs.append((a["data-true"], a["data-predicted"]))
        if tag == "img":
            self.images.append(a["src"])
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.text.append(data)


def test_the_most_confident_mistakes_grouped_by_confusion_pair(tmp_path):
    picture = tmp_path / "a.jpg"
    Image.fromarray(np.full((300, 200, 3), 120, np.uint8)).save(picture)
    posts = [
        Post("p0", "<script>alert(1)</script> fine", str(picture), 0),
        Post("p1", "right", None, 1),
        Post('p"2', None, str(tmp_path / "missing.jpg"), 2),
        Post("p3", "also wrong", None, 0),
        Post("p4", "least sure", None, 0),
    ]
    y_true = [0, 1, 2, 0, 0]
    y_prob = np.array([[0.1, 0.9, 0.0], [0.0, 1.0, 0.0], [0.05, 0.0, 0.95], [0.2, 0.1, 0.7], [0.3, 0.4, 0.3]])
    y_prob[2] = [0.96, 0.02, 0.02]  # p"2: true 2, predicted 0 with 96%
    assert most_confident_errors(y_true, y_prob, 3) == [2, 0, 3]
    out = write_error_gallery(str(tmp_path / "e.html"), posts, y_true, y_prob, ["neg", "neu", "pos"], 3, "t", "cm.png")
    assert out == {"errors": 4, "shown": 3, "path": str(tmp_path / "e.html")}
    page = _Page()
    page.feed((tmp_path / "e.html").read_text(encoding="utf-8"))
    assert page.scripts == 0 and "<script>alert(1)</script> fine" in page.text  # shown as text, never run
    assert sorted(p["data-id"] for p in page.posts) == sorted(['p"2', "p0", "p3"])  # the 4th (40%) is left out
    assert set(page.pairs) == {("pos", "neg"), ("neg", "neu"), ("neg", "pos")}
    assert page.images[0] == "cm.png" and sum(s.startswith("data:image/jpeg;base64,") for s in page.images) == 1
    assert "no image" in page.text and "(no caption)" in page.text
