"""Duplicate and near-duplicate posts: normalised captions, dHash, pairs across splits, dropping from train."""

from __future__ import annotations

import io

import numpy as np
import pytest

from data_pipelines.duplicates import (
    dhash,
    drop_from_train,
    find_duplicates,
    format_counts,
    hamming_pairs,
    normalise_caption,
)
from data_pipelines.post import Post


def test_captions_compare_after_normalisation():
    assert normalise_caption("RT  Great DAY!!! https://t.co/x1 ") == normalise_caption("rt great day")
    assert normalise_caption("Ｃａｆé — nice") == "café nice"  # NFKC folds the full-width letters
    assert normalise_caption("") == normalise_caption(None) == normalise_caption(" !! ") == ""


def _image(seed: int, size: int = 96) -> np.ndarray:
    """A smooth random picture (a low-resolution pattern upsampled), uint8 [size, size, 3]."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3)).astype(np.float32)
    return np.kron(small, np.ones((size // 6, size // 6, 1))).astype(np.uint8)


def test_dhash_survives_resizing_and_jpeg_but_tells_pictures_apart():
    from PIL import Image

    original = _image(0)
    buf = io.BytesIO()
    Image.fromarray(original).resize((64, 64)).save(buf, "JPEG", quality=70)
    resized_jpeg = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB").resize((96, 96)))
    hashes = dhash(np.stack([original, resized_jpeg, _image(1), _image(2)]))
    assert hashes.dtype == np.uint64 and len(set(hashes.tolist())) >= 3
    near = hamming_pairs(hashes, 2)
    assert [(i, j) for i, j, _ in near] == [(0, 1)]
    assert bin(int(hashes[0]) ^ int(hashes[2])).count("1") > 10


@pytest.mark.parametrize("distance", [2, 3, 5])  # block index (<= 3) and every pair in chunks (> 3)
def test_hamming_pairs_matches_a_direct_count(distance):
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, 700, dtype=np.uint64)
    hashes[500] = hashes[3] ^ np.uint64(0b101)  # two bits from post 3
    hashes[600] = hashes[7] ^ np.uint64((1 << 5) | (1 << 21) | (1 << 37))  # three bits, in three blocks
    hashes[650] = hashes[650] & np.uint64(0xFFFF)  # a few near-empty hashes
    hashes[651] = hashes[650] ^ np.uint64(1 << 63)
    found = hamming_pairs(hashes, distance, chunk=128)  # several chunks
    direct = [
        (i, j, bin(int(hashes[i]) ^ int(hashes[j])).count("1"))
        for i in range(700)
        for j in range(i + 1, 700)
        if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= distance
    ]
    assert sorted(found) == sorted(direct) and (3, 500, 2) in found
    assert ((7, 600, 3) in found) == (distance >= 3)


def test_pairs_within_and_across_splits_and_disagreeing_labels():
    splits = {
        "train": [Post("1", "Hello world!", None, 0), Post("2", "hello   WORLD", None, 0), Post("3", "other", None, 1)],
        "test": [Post("4", "hello world", None, 2), Post("5", "fresh", None, 1)],
    }
    hashes = {"3": 0b1111, "5": 0b1110, "1": 2**40}  # 3 and 5: one bit apart
    result = find_duplicates(splits, hashes, image_distance=1)
    counts = result["counts"]
    assert counts["caption"] == {"within_split": 1, "across_splits": 2, "labels_disagree": 2}
    assert counts["image"] == {"within_split": 0, "across_splits": 1, "labels_disagree": 0}
    assert "caption" in format_counts(result) and len(result["pairs"]) == 4
    kept, dropped = drop_from_train(splits, result)
    assert dropped == ["1", "2", "3"] and [p.id for p in kept["train"]] == [] and kept["test"] == splits["test"]


@pytest.mark.parametrize("distance", [0, 2])
def test_no_pairs_among_distinct_posts(distance):
    splits = {"train": [Post(str(i), f"caption {i}", None, 0) for i in range(5)]}
    hashes = {str(i): (0xFF << (8 * i)) for i in range(5)}  # 16 bits apart
    assert find_duplicates(splits, hashes, distance)["pairs"] == []
