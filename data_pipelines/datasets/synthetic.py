"""The embedded synthetic multimodal sentiment dataset (docs/ARCHITECTURE.md §7).

`make_synthetic(out_dir, posts=600, image_size=64, seed=0)` writes, from a seed,
a dataset in the MVSA layout (`data/ID.jpg`, `data/ID.txt`, `train.txt` with
`guid,tag`) so that the real `mvsa` reader is exercised. Labels are
0 negative, 1 neutral, 2 positive once read.

How sentiment is carried:

* Images: background hue and brightness (warm and bright for positive, cool and
  dark for negative, green/grey mid-tones for neutral), the drawn shapes
  (circles / rectangles / triangles and crossed lines), plus pixel noise; a
  share of images ("hard") take their colour from a random class, so the image
  alone is informative but not perfect.
* Captions: words from a small sentiment lexicon, negation ("not happy"),
  hashtags, mentions, emoji and URLs.

Post kinds (fractions of the set, see `KIND_WEIGHTS`):

* ``straight``: the caption states the label.
* ``neutral_text``: a neutral caption ("on my way to work"); the label follows
  the image and is drawn from the class prior, so text cannot tell it.
* ``ironic``: a caption with the opposite polarity's words ("great, another
  monday"), with or without an irony marker (markers also occur in straight
  posts); the label follows the image.
* ``no_image``: a straight caption and no image file.
* ``no_text``: the image alone carries the label; the caption file is missing
  or empty.

So a text-only model is capped well below what image+text can reach; the
figures measured with this generator are in the README.
"""

from __future__ import annotations

import colorsys
import os
import re

import numpy as np
import tensorflow as tf

from data_pipelines.outputs import claim_output_dir
from data_pipelines.post import SENTIMENT_CLASSES

CLASS_PRIOR = {"negative": 0.30, "neutral": 0.25, "positive": 0.45}
KIND_WEIGHTS = {"straight": 0.55, "neutral_text": 0.15, "ironic": 0.12, "no_image": 0.09, "no_text": 0.09}
HARD_IMAGE_RATE = 0.12

WORDS = {
    "positive": [
        "love",
        "happy",
        "amazing",
        "great",
        "awesome",
        "beautiful",
        "wonderful",
        "best",
        "fantastic",
        "excited",
        "lovely",
        "perfect",
        "proud",
        "fun",
    ],
    "negative": [
        "hate",
        "sad",
        "terrible",
        "awful",
        "worst",
        "angry",
        "horrible",
        "disappointed",
        "ugly",
        "broken",
        "miserable",
        "annoyed",
        "tired",
        "boring",
    ],
}
NEUTRAL_PHRASES = [
    "just posted a photo",
    "on my way to work",
    "at the station",
    "new post",
    "photo of the day",
    "meeting at 5pm",
    "heading home now",
    "this is the view from the office",
    "today in the city",
    "read the report",
    "back at my desk",
    "the bus is here",
    "lunch break",
    "weekly update",
]
SUBJECTS = [
    "today",
    "this weekend",
    "the game",
    "the concert",
    "my new phone",
    "the weather",
    "this coffee",
    "the movie",
    "our trip",
    "the team",
    "this place",
    "the food",
]
TEMPLATES = [
    "{subj} was {w}",
    "{w} {subj}",
    "feeling {w} about {subj}",
    "so {w}",
    "{subj} is {w}",
    "{w} day with friends",
    "what a {w} evening",
    "honestly {subj} is {w}",
]
HASHTAGS = {
    "positive": ["#blessed", "#goodvibes", "#happy", "#love"],
    "negative": ["#fail", "#mondays", "#ugh", "#sad"],
    "neutral": ["#news", "#photo", "#city", "#update"],
}
EMOJI = {"positive": ["😊", "❤️", "😍", "🎉"], "negative": ["😡", "😢", "💔", "😞"], "neutral": ["📷", "🚌", "🏢", ""]}
IRONY_MARKERS = ["yeah right", "🙃", "#not", "just what i needed", "...", "sure"]

# hue (0..1), saturation, value ranges per class for the image background
COLOURS = {
    "positive": {"hue": (0.05, 0.16), "sat": (0.55, 0.95), "val": (0.72, 0.98)},
    "neutral": {"hue": (0.25, 0.45), "sat": (0.10, 0.45), "val": (0.45, 0.70)},
    "negative": {"hue": (0.55, 0.72), "sat": (0.25, 0.70), "val": (0.12, 0.45)},
}


def _hsv(rng, colours):
    h = rng.uniform(*colours["hue"])
    s = rng.uniform(*colours["sat"])
    v = rng.uniform(*colours["val"])
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def draw_image(rng: np.random.Generator, cls: str, size: int, hard: bool) -> np.ndarray:
    """Draw one `[size, size, 3]` uint8 image whose look carries class `cls`."""
    colour_cls = rng.choice(SENTIMENT_CLASSES) if hard else cls
    background = _hsv(rng, COLOURS[colour_cls])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # a soft vertical gradient so images are not flat
    grad = (1.0 + 0.25 * (yy - 0.5) * rng.uniform(-1, 1))[..., None]
    img = background[None, None, :] * grad
    shape_colour = np.clip(background + rng.uniform(60, 110) * (1 if colour_cls != "positive" else -1), 0, 255)
    for _ in range(rng.integers(1, 4)):
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        r = rng.uniform(0.08, 0.2)
        if cls == "positive":  # discs
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        elif cls == "neutral":  # axis-aligned rectangles
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r * 0.6)
        else:  # downward triangles and a cross
            mask = (yy - cy > -r) & (yy - cy < r) & (np.abs(xx - cx) < (r - (yy - cy)) * 0.5)
            mask |= (np.abs((xx - cx) - (yy - cy)) < 0.02) & (np.abs(xx - cx) < r)
        img[mask] = shape_colour
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _decorate(rng, text: str, tone: str) -> str:
    parts = [text]
    if rng.random() < 0.5:
        parts.append(rng.choice(HASHTAGS[tone]))
    if rng.random() < 0.4:
        parts.append(rng.choice(EMOJI[tone]))
    if rng.random() < 0.3:
        parts.insert(0, f"@user{rng.integers(1, 999)}")
    if rng.random() < 0.25:
        parts.append(f"http://t.co/{rng.integers(10**6, 10**7):x}")
    return " ".join(p for p in parts if p)


def polar_caption(rng: np.random.Generator, polarity: str) -> str:
    """A caption that states `polarity` (sometimes through a negation)."""
    other = "negative" if polarity == "positive" else "positive"
    if rng.random() < 0.15:
        word = "not " + rng.choice(WORDS[other])
    else:
        word = rng.choice(WORDS[polarity])
    text = rng.choice(TEMPLATES).format(w=word, subj=rng.choice(SUBJECTS))
    if rng.random() < 0.08:  # markers also occur in straight posts
        text += " " + rng.choice(IRONY_MARKERS)
    return _decorate(rng, text, polarity)


def neutral_caption(rng: np.random.Generator) -> str:
    return _decorate(rng, rng.choice(NEUTRAL_PHRASES), "neutral")


def caption_for(rng, kind: str, cls: str) -> str | None:
    if kind == "no_text":
        return None
    if kind == "neutral_text" or (cls == "neutral" and kind in ("straight", "no_image", "ironic")):
        return neutral_caption(rng)
    if kind == "ironic":
        opposite = "negative" if cls == "positive" else "positive"
        text = polar_caption(rng, opposite)
        if rng.random() < 0.5:
            text += " " + rng.choice(IRONY_MARKERS)
        return text
    return polar_caption(rng, cls)


_WRITTEN = re.compile(r"^[0-9]+\.(txt|jpg)$")


def _remove_earlier_set(out_dir: str) -> None:
    """Remove the files an earlier `make_synthetic` wrote into `out_dir` (and nothing else), so a new
    set with fewer posts leaves no old posts mixed in."""
    data_dir = os.path.join(out_dir, "data")
    if os.path.isdir(data_dir):
        for name in os.listdir(data_dir):
            path = os.path.join(data_dir, name)
            if _WRITTEN.match(name) and os.path.isfile(path) and not os.path.islink(path):
                os.remove(path)
    for name in ("train.txt", "README.txt"):
        if os.path.isfile(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))


def make_synthetic(out_dir: str, posts: int = 600, image_size: int = 64, seed: int = 0) -> dict:
    """Write the synthetic dataset to `out_dir` in the MVSA layout.

    Same arguments give byte-identical files. Returns a summary dict with the
    number of posts per class and per kind.

    Example:
    >>> from data_pipelines.datasets.synthetic import make_synthetic
    >>> summary = make_synthetic("/tmp/synth", posts=60, image_size=32, seed=1)
    """
    if posts < 10:
        raise ValueError("posts must be at least 10")
    rng = np.random.default_rng(seed)
    claim_output_dir(out_dir, "synthetic", flag="OUT_DIR")  # new, empty or an earlier synthetic set
    data_dir = os.path.join(out_dir, "data")
    _remove_earlier_set(out_dir)
    os.makedirs(data_dir, exist_ok=True)
    classes = list(CLASS_PRIOR)
    kinds = list(KIND_WEIGHTS)
    rows, kind_counts = [], {k: 0 for k in kinds}
    class_counts = {c: 0 for c in SENTIMENT_CLASSES}
    for i in range(1, posts + 1):
        cls = str(rng.choice(classes, p=list(CLASS_PRIOR.values())))
        kind = str(rng.choice(kinds, p=list(KIND_WEIGHTS.values())))
        guid = str(i)
        caption = caption_for(rng, kind, cls)
        image = draw_image(rng, cls, image_size, hard=rng.random() < HARD_IMAGE_RATE)
        txt_path = os.path.join(data_dir, guid + ".txt")
        jpg_path = os.path.join(data_dir, guid + ".jpg")
        if caption is not None:
            with open(txt_path, "w", encoding="utf-8", newline="\n") as f:
                f.write(caption + "\n")
        elif rng.random() < 0.5:  # half the text-less posts have an empty caption file
            open(txt_path, "wb").close()
        if kind != "no_image":
            jpeg = tf.io.encode_jpeg(tf.constant(image), quality=92).numpy()
            with open(jpg_path, "wb") as f:
                f.write(jpeg)
        rows.append(f"{guid},{cls}")
        kind_counts[kind] += 1
        class_counts[cls] += 1
    with open(os.path.join(out_dir, "train.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("guid,tag\n" + "\n".join(rows) + "\n")
    with open(os.path.join(out_dir, "README.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(
            f"mmsa-keras synthetic dataset: posts={posts} image_size={image_size} seed={seed}\n"
            "MVSA layout: data/ID.jpg, data/ID.txt, train.txt (guid,tag).\n"
            f"classes: {class_counts}\nkinds: {kind_counts}\n"
        )
    return {"posts": posts, "classes": class_counts, "kinds": kind_counts, "path": out_dir}
