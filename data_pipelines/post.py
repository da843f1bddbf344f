"""The data contract of docs/ARCHITECTURE.md §2: `Post` and `MultimodalDataset`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

#: Sentiment label ids follow the papers: 0 negative, 1 neutral, 2 positive.
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
#: Two-class sentiment: 0 negative, 1 positive.
SENTIMENT_CLASSES_2 = ("negative", "positive")
#: The label of an unlabelled post (e.g. MVSA `test_without_label.txt`).
NO_LABEL = None
#: `--class-weight` rules computed from the training split's class counts (`pipeline.class_weights_for`)
BALANCED_WEIGHTS = ("balanced", "sqrt_balanced")


@dataclasses.dataclass
class Post:
    """One social-media post: an optional caption, an optional image and a label.

    Attributes:
        id: the post's identifier, unique inside its dataset.
        text: the caption, or None when the post has no text.
        image_path: path of the image file, or None when the post has no image.
        label: the class id (index into the dataset's `class_names`), or None.
        text_label: optional per-modality label of the text (MVSA).
        image_label: optional per-modality label of the image (MVSA).
        meta: free-form metadata (ANP, ANP score, upvotes, source file, ...).
    """

    id: str
    text: str | None = None
    image_path: str | None = None
    label: int | None = None
    text_label: int | None = None
    image_label: int | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def has_text(self) -> bool:
        return bool(self.text and self.text.strip())

    @property
    def has_image(self) -> bool:
        return bool(self.image_path)


@dataclasses.dataclass
class MultimodalDataset:
    """A named dataset: ordered class names and named splits of posts.

    Args:
        name: dataset name (e.g. "mvsa_single", "synthetic").
        class_names: ordered class names; a post's label indexes this tuple.
        splits: mapping split name ("train", "validation", "test", or "all"
            before splitting) to a list of posts.
    """

    name: str
    class_names: tuple[str, ...]
    splits: dict[str, list[Post]]
    #: what the reader or the splitter did that a report should say (e.g. a split replaced or shrunk)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __getitem__(self, split: str) -> list[Post]:
        if split not in self.splits:
            raise KeyError(f"dataset {self.name!r} has no split {split!r}; it has {sorted(self.splits)}")
        return self.splits[split]

    def all_posts(self) -> list[Post]:
        return [p for posts in self.splits.values() for p in posts]

    def labelled(self, split: str) -> list[Post]:
        return [p for p in self[split] if p.label is not None]

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        posts = self.all_posts() if split is None else self[split]
        counts = Counter(p.label for p in posts if p.label is not None)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def summary(self) -> dict[str, Any]:
        """Posts per split and class, and missing modalities, as a plain dict."""
        out: dict[str, Any] = {"name": self.name, "class_names": list(self.class_names)}
        splits = {}
        for split, posts in self.splits.items():
            splits[split] = {
                "posts": len(posts),
                "labelled": sum(p.label is not None for p in posts),
                "counts": self.class_counts(split),
                "missing_text": sum(not p.has_text for p in posts),
                "missing_image": sum(not p.has_image for p in posts),
            }
        out["splits"] = splits
        out["counts"] = self.class_counts()
        out["total"] = sum(out["counts"].values())
        return out
