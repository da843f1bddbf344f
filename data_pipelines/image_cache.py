"""Decoded, resized images on disk: decode each image once per dataset and size.

`ImageCache.build(posts, image_size, directory)` decodes every post's image
(the pipeline's own `decode_image_bytes`, values rounded to integers) into one
uint8 `[N, S, S, 3]` `.npy` file, read back by rows (`StoredColumn`). It is keyed like the
feature store: by the image side and the content of every image file, so a
changed image gives a new cache and an unchanged dataset reuses it across runs.
Writes go to a temporary file renamed into place, so an interrupted build
leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from data_pipelines.images import decode_image_bytes, decode_parallelism
from data_pipelines.post import Post
from data_pipelines.progress import Progress
from data_pipelines.stored_arrays import NpyWriter, StoredColumn

FORMAT_VERSION = 1


def file_digest(path: str) -> bytes:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks (images, backups, fingerprints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


class ImageCache:
    """A uint8 array of decoded images on disk (read by rows, see `StoredColumn`) and the row of each post id."""

    def __init__(self, path: str, ids: list[str]):
        self.path = path
        self.ids = ids
        self.row = {pid: i for i, pid in enumerate(ids)}
        self.images = StoredColumn(path)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    def rows_for(self, posts: list[Post]) -> np.ndarray:
        """Row of each post's image, -1 for a post without an image."""
        return np.array([self.row.get(p.id, -1) if p.image_path else -1 for p in posts], np.int64)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(uint8 [B, S, S, 3], float32 presence [B])` for cache rows (-1 = zero image)."""
        rows = np.asarray(rows)
        present = rows >= 0
        out = np.zeros((len(rows), *self.images.shape[1:]), np.uint8)
        if present.any():
            take = rows[present]
            out[np.flatnonzero(present)] = self.images[take]
        return out, present.astype(np.float32)

    @classmethod
    def build(
        cls,
        posts: list[Post],
        image_size: int,
        directory: str,
        verbose: bool = True,
        batch_size: int = 64,
        source_size: int | None = None,
    ) -> ImageCache:
        with_image = sorted({p.id: p for p in posts if p.image_path}.values(), key=lambda p: p.id)
        h = hashlib.sha256(
            json.dumps({"format": FORMAT_VERSION, "size": int(image_size), "source": source_size}).encode()
        )
        for p in with_image:
            h.update(p.id.encode() + b"\0" + file_digest(p.image_path))
        key = h.hexdigest()[:16]
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"images-{image_size}px-{key}.npy")
        ids_path = path[:-4] + ".ids.json"
        if os.path.exists(path) and os.path.exists(ids_path):
            with open(ids_path, encoding="utf-8") as f:
                return cls(path, json.load(f))
        n = len(with_image)
        paths = tf.constant([p.image_path for p in with_image] or [""], tf.string)[:n]
        ds = (
            tf.data.Dataset.from_tensor_slices(paths)
            .map(
                lambda p: tf.cast(
                    decode_image_bytes(tf.io.read_file(p), image_size, source_size=source_size)[0], tf.uint8
                ),
                num_parallel_calls=decode_parallelism([p.image_path for p in with_image]),
                deterministic=True,
            )
            .batch(batch_size)
            .prefetch(2)
        )
        bar = Progress(n, f"Decoding images once ({image_size}px cache)", unit="image") if verbose and n else None
        with NpyWriter(path, (n, image_size, image_size, 3), np.uint8) as array:  # moved into place at the end
            for batch in ds:
                array.append(batch.numpy())
                if bar is not None:
                    bar.add(len(batch))
        if bar is not None:
            bar.close()
        with open(ids_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump([p.id for p in with_image], f)
        os.replace(ids_path + ".tmp", ids_path)
        return cls(path, [p.id for p in with_image])


def default_image_cache_dir() -> str:
    root = os.environ.get("MMSA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mmsa_keras")
    return os.path.join(root, "images")
