"""Duplicate and near-duplicate posts, within a split and across splits (leakage).

Two posts are duplicates when

* their captions are equal once normalised (`normalise_caption`: Unicode NFKC,
  lower case, URLs dropped, every run of non-word characters made one space;
  an empty result never matches), or
* their images are near-identical: the 64-bit difference hash (dHash) of each
  image differs in at most `image_distance` bits (default 2). dHash: the image in
  grey, resized (area) to 9 x 8, one bit per horizontally adjacent pair, set when
  the left pixel is brighter. It survives re-encoding, resizing and small colour
  changes, not crops.

`find_duplicates(splits, hashes)` returns every pair with its kind (`caption`,
`image` or `both`), the two splits and whether the labels agree, and the counts
per kind: within a split, across splits (a training post that duplicates a
validation or test post leaks it) and with disagreeing labels.
`drop_from_train(splits, result)` removes training posts that duplicate a
post of another split (`mmsa train --dedup drop-from-train`).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict

import numpy as np
import tensorflow as tf

from data_pipelines.image_cache import ImageCache, default_image_cache_dir

_URL = re.compile(r"(?:https?://|www\.)\S+")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
KINDS = ("caption", "image", "both")


def normalise_caption(text: str | None) -> str:
    """The caption as compared (see the module docstring); "" for no caption."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    return _NON_WORD.sub(" ", _URL.sub(" ", text)).strip()


def dhash(images: np.ndarray) -> np.ndarray:
    """64-bit difference hashes (uint64 `[N]`) of uint8 or float images `[N, H, W, 3]`."""
    images = np.asarray(images, np.float32)
    if len(images) == 0:
        return np.zeros((0,), np.uint64)
    grey = images @ np.array([0.299, 0.587, 0.114], np.float32)  # [N, H, W]
    small = tf.image.resize(grey[..., None], (8, 9), method="area").numpy()[..., 0]  # [N, 8, 9]
    bits = (small[:, :, :-1] > small[:, :, 1:]).reshape(len(images), 64)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def hamming_pairs(hashes: np.ndarray, max_distance: int, chunk: int = 512) -> list[tuple[int, int, int]]:
    """`(i, j, distance)` for every i < j whose hashes differ in at most `max_distance` bits.

    For `max_distance` <= 3, two such hashes agree on at least one of their four 16-bit blocks
    (pigeonhole), so only posts sharing a block are compared: linear in the posts, not quadratic,
    which keeps the check cheap on every run. Larger distances compare every pair in chunks."""
    hashes = np.asarray(hashes, np.uint64)
    if max_distance <= 3:
        candidates = set()
        for block in range(4):
            keys = (hashes >> np.uint64(16 * block)) & np.uint64(0xFFFF)
            order = np.argsort(keys, kind="stable")
            bounds = np.flatnonzero(np.diff(keys[order])) + 1
            for group in np.split(order, bounds):
                if len(group) > 1:
                    g = np.sort(group)
                    candidates.update((int(a), int(b)) for k, a in enumerate(g) for b in g[k + 1 :])
        out = []
        for i, j in sorted(candidates):
            d = bin(int(hashes[i]) ^ int(hashes[j])).count("1")
            if d <= max_distance:
                out.append((i, j, d))
        return out
    out = []
    as_bytes = hashes.view(np.uint8).reshape(-1, 8)
    for start in range(0, len(hashes), chunk):
        block = as_bytes[start : start + chunk]  # [b, 8]
        xor = np.bitwise_xor(block[:, None, :], as_bytes[None, :, :])  # [b, n, 8]
        distance = np.unpackbits(xor, axis=2).sum(axis=2)  # [b, n]
        rows, cols = np.nonzero(distance <= max_distance)
        for r, c in zip(rows, cols):
            i = start + int(r)
            if i < int(c):
                out.append((i, int(c), int(distance[r, c])))
    return out


def image_hashes(posts, image_size: int = 32, cache_dir: str | None = None, verbose: bool = True) -> dict[str, int]:
    """`{post id: dHash}` of every post with an image (decoded once through the shared image cache)."""
    with_image = [p for p in posts if p.image_path]
    if not with_image:
        return {}
    cache = ImageCache.build(with_image, image_size, cache_dir or default_image_cache_dir(), verbose=verbose)
    return hashes_from_cache(cache, with_image)


def hashes_from_cache(cache, posts) -> dict[str, int]:
    """`{post id: dHash}` from an `ImageCache` (the run's own, already decoded)."""
    rows = cache.rows_for(posts)
    out = {}
    for start in range(0, len(posts), 1024):
        part_rows = rows[start : start + 1024]
        keep = np.flatnonzero(part_rows >= 0)
        if not len(keep):
            continue
        images, _ = cache.gather(part_rows[keep])
        for k, h in zip(keep, dhash(images)):
            out[posts[start + int(k)].id] = int(h)
    return out


def find_duplicates(splits: dict[str, list], hashes: dict[str, int] | None = None, image_distance: int = 2) -> dict:
    """Every duplicate pair of `splits` (`{name: [Post]}`) and the counts (see the module docstring)."""
    posts = [(name, p) for name in sorted(splits) for p in splits[name]]
    kinds: dict[tuple[int, int], set[str]] = defaultdict(set)
    distance: dict[tuple[int, int], int] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for k, (_, p) in enumerate(posts):
        key = normalise_caption(p.text)
        if key:
            groups[key].append(k)
    for members in groups.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                kinds[(members[a], members[b])].add("caption")
    if hashes:
        hashed = [k for k, (_, p) in enumerate(posts) if p.id in hashes]
        values = np.array([hashes[posts[k][1].id] for k in hashed], np.uint64)
        for i, j, d in hamming_pairs(values, image_distance):
            pair = (hashed[i], hashed[j])
            kinds[pair].add("image")
            distance[pair] = d
    pairs = []
    for (a, b), found in sorted(kinds.items()):
        (split_a, pa), (split_b, pb) = posts[a], posts[b]
        if split_a == split_b and pa.id == pb.id:
            continue
        pairs.append(
            {
                "id_a": pa.id,
                "split_a": split_a,
                "label_a": pa.label,
                "id_b": pb.id,
                "split_b": split_b,
                "label_b": pb.label,
                "kind": "both" if len(found) == 2 else next(iter(found)),
                "image_distance": distance.get((a, b)),
                "labels_agree": pa.label == pb.label,
            }
        )
    return {"pairs": pairs, "counts": count_pairs(pairs), "image_distance": image_distance, "hashed": bool(hashes)}


def count_pairs(pairs: list[dict]) -> dict:
    counts = {kind: {"within_split": 0, "across_splits": 0, "labels_disagree": 0} for kind in KINDS}
    for p in pairs:
        c = counts[p["kind"]]
        c["within_split" if p["split_a"] == p["split_b"] else "across_splits"] += 1
        c["labels_disagree"] += int(not p["labels_agree"] and p["label_a"] is not None and p["label_b"] is not None)
    return counts


def format_counts(result: dict) -> str:
    rows = [
        "duplicate pairs (caption: equal normalised captions; image: dHash within "
        f"{result['image_distance']} bits{'' if result['hashed'] else ', not checked'}):",
        "  kind       within a split   across splits   labels disagree",
    ]
    for kind in KINDS:
        c = result["counts"][kind]
        rows.append(f"  {kind:<9} {c['within_split']:>15} {c['across_splits']:>15} {c['labels_disagree']:>17}")
    return "\n".join(rows)


def drop_from_train(splits: dict[str, list], result: dict) -> tuple[dict[str, list], list[str]]:
    """`splits` without the training posts that duplicate a post of another split; `(splits, dropped ids)`."""
    dropped = set()
    for p in result["pairs"]:
        if p["split_a"] == p["split_b"]:
            continue
        if p["split_a"] == "train":
            dropped.add(p["id_a"])
        if p["split_b"] == "train":
            dropped.add(p["id_b"])
    out = dict(splits)
    out["train"] = [p for p in splits["train"] if p.id not in dropped]
    return out, sorted(dropped)


def write_pairs(path: str, result: dict) -> None:
    """The pairs as CSV (one row per pair)."""
    fields = ["kind", "id_a", "split_a", "label_a", "id_b", "split_b", "label_b", "image_distance", "labels_agree"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for p in result["pairs"]:
            writer.writerow({k: p[k] for k in fields})
