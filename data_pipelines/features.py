"""A feature store on disk: frozen encoders run once, many heads train on their outputs.

`extract_features(encoder, modality, posts, preprocessor, store)` runs a frozen
encoder over posts in batches (with progress) and stores its outputs under
`store/<modality>-<encoder>-<key>/`. The key hashes exactly what the features
depend on: the encoder's architecture (without auto-generated layer names), its
weight values (so an ImageNet download, a weights file or a seeded random init
are told apart), the preprocessing (image size, normalisation and statistics;
tokenizer and vocabulary) and the posts' content (ids, captions, image file
bytes). It does not depend on which run, row or table asks, so `mmsa features
extract`, every row of a table and the next table on the same data share one
set: each post is encoded once.

Extraction writes resumable `.npz` shards (atomically, recorded in
`manifest.json` as they finish: an interrupted extraction resumes at the first
missing shard), then consolidates them into one `.npy` file per output, read
back row by row (`StoredColumn`, positioned reads): a training run holds only
the batches it is using; the file's pages live in the kernel's page cache,
shared by every process and row and dropped under memory pressure, not in
the run's own resident memory.

Stored per post: text — `pooled_output`, `mean_output` (masked mean of the
token states) and, when a model needs them, `sequence_output` + `padding_mask`;
image — `pooled_output` and, when needed, the flattened `feature_map`.
Sequences (token states, spatial maps) are stored in float16 (half the disk
and memory; the measured effect on accuracy is in BENCHMARKS.md); pooled
vectors stay float32. A set extracted without sequences is extended in place
when a model later needs them; a caller that knows a later run will need them
(a table whose rows share an encoder) says so with `extract_sequences_for`, so
each encoder runs once.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from data_pipelines.batching import epoch_stream, stream_posts, trim_padding, with_labels_of
from data_pipelines.outputs import claim_output_dir
from data_pipelines.post import Post
from data_pipelines.progress import Progress
from data_pipelines.stored_arrays import NpyWriter, StoredColumn

FORMAT_VERSION = 2
SEQUENCE_OUTPUTS = ("sequence_output", "padding_mask", "feature_map")


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(model) -> str:
    """SHA-256 of every weight's shape and values, in order."""
    h = hashlib.sha256()
    for w in model.weights:
        value = np.ascontiguousarray(np.asarray(w.numpy()))
        h.update(str(value.shape).encode() + str(value.dtype).encode())
        h.update(value.tobytes())
    return h.hexdigest()


def architecture_fingerprint(model) -> str:
    """SHA-256 of the encoder's structure without its auto-generated names.

    `get_config()` holds names like "get_item_7" that depend on how many layers
    the process built before, so it would change between identical encoders.
    Trainability is left out too: frozen or not, the outputs are the same.
    """
    skip = ("name", "layers", "input_layers", "output_layers", "build_config", "trainable")

    def walk(layer):
        config = {k: v for k, v in layer.get_config().items() if k not in skip}
        items = [type(layer).__name__, json.dumps(config, sort_keys=True, default=str)]
        if isinstance(layer, keras.Model):
            items += [walk(sub) for sub in layer.layers]
        return items

    return _sha(walk(model))


def posts_fingerprint(posts: list[Post], modality: str) -> str:
    """SHA-256 of the posts' ids and the content the modality reads."""
    h = hashlib.sha256()
    for p in posts:
        h.update(p.id.encode() + b"\0")
        if modality == "text":
            h.update((p.text or "").encode() + b"\0")
        elif p.image_path:
            with open(p.image_path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        else:
            h.update(b"<no image>")
    return h.hexdigest()


def preprocessing_fingerprint(preprocessor, modality: str) -> str:
    if modality == "image":
        cfg = preprocessor.get_config()
        parts = {k: cfg[k] for k in ("image_size", "normalisation", "mean", "std")}
        if cfg.get("source_size"):
            parts["source_size"] = cfg["source_size"]
        return _sha(parts)
    tok = preprocessor.tokenizer
    vocab = tok.vocabulary() if hasattr(tok, "vocabulary") else None
    config = {k: v for k, v in tok.get_config().items() if k not in ("preset", "source_preset")}
    if hasattr(tok, "tokenizer") and hasattr(tok.tokenizer, "get_vocabulary"):
        vocab = tok.tokenizer.get_vocabulary()
    return _sha({"tokenizer": config, "vocabulary": vocab})


_ENCODER_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encoder_fingerprints(encoder) -> tuple[str, str]:
    """(architecture, weights) fingerprints; remembered for an encoder with nothing trainable (frozen)."""
    if not encoder.trainable_weights and encoder in _ENCODER_FINGERPRINTS:
        return _ENCODER_FINGERPRINTS[encoder]
    out = (architecture_fingerprint(encoder), weights_fingerprint(encoder))
    if not encoder.trainable_weights:
        _ENCODER_FINGERPRINTS[encoder] = out
    return out


def store_key(encoder, modality: str, posts: list[Post], preprocessor) -> tuple[str, dict]:
    """The store key of an encoder's outputs over `posts` (see the module docstring)."""
    posts = sorted({p.id: p for p in posts}.values(), key=lambda p: p.id)
    architecture, weights = encoder_fingerprints(encoder)
    parts = {
        "format": FORMAT_VERSION,
        "modality": modality,
        "encoder": architecture,
        "weights": weights,
        "preprocessing": preprocessing_fingerprint(preprocessor, modality),
        "posts": posts_fingerprint(posts, modality),
    }
    return _sha(parts)[:16], parts


class FeatureSet:
    """The stored outputs of one encoder over one set of posts (read by rows, see `StoredColumn`)."""

    def __init__(self, directory: str):
        self.directory = directory
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        if not self.manifest.get("complete"):
            raise ValueError(f"{directory}: extraction did not finish; run it again to resume")
        with open(os.path.join(directory, "ids.json"), encoding="utf-8") as f:
            self.ids = json.load(f)
        self.index = {pid: i for i, pid in enumerate(self.ids)}
        self._columns: dict[str, np.ndarray] = {}
        #: {output: (mean, std)} applied to what the datasets read (see `standardized`)
        self.standardization: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def statistics(self, ids, names, chunk: int = 256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-channel (last axis) mean and std of the named outputs over these posts.

        Sequences (spatial maps) pool every position; a channel whose std is
        below 1e-6 (a dead unit) gets std 1, so it stays at 0 after centring.
        Computed in float64 over chunks of rows read from the store.
        """
        rows = np.sort(self.rows(ids))
        out = {}
        for name in names:
            column = self.column(name)
            width = column.shape[-1]
            total, total_sq, count = np.zeros(width), np.zeros(width), 0
            for start in range(0, len(rows), chunk):
                x = np.asarray(column[rows[start : start + chunk]], np.float64).reshape(-1, width)
                total += x.sum(0)
                total_sq += (x * x).sum(0)
                count += len(x)
            mean = total / max(count, 1)
            std = np.sqrt(np.maximum(total_sq / max(count, 1) - mean * mean, 0.0))
            std[std < 1e-6] = 1.0
            out[name] = (mean.astype(np.float32), std.astype(np.float32))
        return out

    def standardized(self, stats: dict[str, tuple[np.ndarray, np.ndarray]]) -> FeatureSet:
        """A view of this set whose datasets read `(x - mean) / std` for the outputs in `stats`."""
        view = copy.copy(self)
        view.standardization = {**self.standardization, **stats}
        return view

    @property
    def names(self) -> list[str]:
        return list(self.manifest["outputs"])

    @property
    def has_sequences(self) -> bool:
        return bool(self.manifest.get("sequences"))

    def shape(self, name: str) -> tuple:
        return tuple(self.manifest["outputs"][name])

    def column(self, name: str) -> StoredColumn:
        """The `[N, ...]` rows of one output, read from disk as they are asked for."""
        if name not in self._columns:
            if name not in self.manifest["outputs"]:
                raise KeyError(f"{self.directory}: no stored output {name!r} (has {self.names})")
            self._columns[name] = StoredColumn(os.path.join(self.directory, f"{name}.npy"))
        return self._columns[name]

    def rows(self, ids) -> np.ndarray:
        missing = [i for i in ids if i not in self.index]
        if missing:
            raise KeyError(f"{self.directory}: no features for {len(missing)} posts (first {missing[0]!r})")
        return np.array([self.index[i] for i in ids], dtype=np.int64)

    def arrays(self, ids, names=None) -> dict[str, np.ndarray]:
        """Rows of the named outputs for these post ids, in that order (copied into memory)."""
        rows = self.rows(ids)
        return {n: self.column(n)[rows] for n in (names or self.names)}


#: (modality, encoder name) pairs whose sequences are stored on first extraction (`extract_sequences_for`)
_SEQUENCES_WANTED: set[tuple[str, str]] = set()


@contextlib.contextmanager
def extract_sequences_for(pairs):
    """Within the block, extraction for these `(modality, encoder name)` pairs also stores the sequences
    (token states, spatial maps) even when the run asking needs only pooled vectors.

    A table whose later rows need an encoder's sequences sets this around all its
    rows, so the encoder runs over the posts once instead of twice (pooled for the
    first rows, then again with sequences). The stored set is the same either way.
    """
    added = {(str(m), str(n)) for m, n in pairs} - _SEQUENCES_WANTED
    _SEQUENCES_WANTED.update(added)
    try:
        yield
    finally:
        _SEQUENCES_WANTED.difference_update(added)


def find_features(store: str, modality: str, key: str) -> FeatureSet | None:
    """The complete stored set with this key, if any (whatever encoder name it was stored under)."""
    if not os.path.isdir(store):
        return None
    for name in os.listdir(store):
        if name.startswith(f"{modality}-") and name.endswith(f"-{key}"):
            directory = os.path.join(store, name)
            try:
                return FeatureSet(directory)
            except (ValueError, OSError, json.JSONDecodeError):
                continue
    return None


def extract_features(
    encoder,
    modality: str,
    posts: list[Post],
    preprocessor,
    store: str,
    batch_size: int = 32,
    shard_size: int = 512,
    sequences: bool = False,
    verbose: bool = True,
    stop_after_shards: int | None = None,
    encoder_spec: dict | None = None,
    image_cache=None,
    num_shards: int = 1,
    shard_index: int = 0,
) -> FeatureSet | None:
    """Run `encoder` over `posts` once and store its outputs (see the module docstring).

    Returns the `FeatureSet`; if the same features are already stored (with the
    sequences when `sequences`), nothing runs. `encoder_spec` is recorded in the
    manifest (not in the key); `stop_after_shards` stops early (to test resuming).
    `image_cache` may be a function returning one, called only if extraction runs.
    `num_shards` / `shard_index`: this process fills only every `num_shards`-th
    shard (several machines filling one store on shared storage); the set is
    consolidated by whichever process finds every shard present, and None is
    returned while shards are missing.
    """
    if modality not in ("text", "image"):
        raise ValueError("modality must be 'text' or 'image'")
    posts = sorted({p.id: p for p in posts}.values(), key=lambda p: p.id)
    key, parts = store_key(encoder, modality, posts, preprocessor)
    existing = find_features(store, modality, key)
    if existing is not None and (existing.has_sequences or not sequences):
        if verbose:
            print(
                f"{modality} features of {encoder.name} for {len(posts)} posts: found in {existing.directory}",
                flush=True,
            )
        return existing
    claim_output_dir(store, "features", flag="feature store")  # new, empty or a store of mmsa's
    names = {encoder.name, (encoder_spec or {}).get("name", encoder.name)}
    sequences = sequences or any((modality, n) in _SEQUENCES_WANTED for n in names)
    directory = existing.directory if existing is not None else os.path.join(store, f"{modality}-{encoder.name}-{key}")
    manifest = _open_manifest(directory, key, parts, encoder, encoder_spec, len(posts), sequences, shard_size)
    input_names = list(encoder.input) if isinstance(encoder.input, dict) else ["images"]
    total_shards = max(1, math.ceil(len(posts) / shard_size))
    mine = [s for s in range(total_shards) if s % num_shards == shard_index]
    bar = (
        Progress(
            sum(len(posts[s * shard_size : (s + 1) * shard_size]) for s in mine),
            f"Extracting {modality} features with {encoder.name}",
            unit="post",
        )
        if verbose
        else None
    )
    done_now = 0

    run = _encode_fn(encoder, modality, preprocessor, sequences)

    if callable(image_cache):  # built only now that extraction has to run
        image_cache = image_cache() if modality == "image" else None
    for s in mine:
        name = f"shard_{s:05d}.npz"
        chunk = posts[s * shard_size : (s + 1) * shard_size]
        if os.path.exists(os.path.join(directory, name)):
            if bar is not None:
                bar.add(len(chunk))
            continue
        if stop_after_shards is not None and done_now >= stop_after_shards:
            return None
        _write_shard(directory, name, chunk, run, preprocessor, batch_size, input_names, image_cache, modality, bar)
        done_now += 1
    if bar is not None:
        bar.close()
    present = [s for s in range(total_shards) if os.path.exists(os.path.join(directory, f"shard_{s:05d}.npz"))]
    if len(present) < total_shards:
        if verbose:
            print(
                f"{len(present)} of {total_shards} shards present in {directory}; the set is complete once "
                "every shard index has run",
                flush=True,
            )
        return None
    _consolidate(directory, manifest, total_shards, [p.id for p in posts])
    return FeatureSet(directory)


def _open_manifest(directory, key, parts, encoder, encoder_spec, num_posts, sequences, shard_size) -> dict:
    """The manifest of a set being extracted: the one on disk when its shards can be resumed, else a new one
    (the folder emptied first)."""
    manifest_path = os.path.join(directory, "manifest.json")
    os.makedirs(directory, exist_ok=True)
    manifest = None
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        if (
            manifest.get("complete")
            or manifest.get("sequences") != sequences
            or manifest.get("shard_size") != shard_size
        ):
            manifest = None  # extending a pooled-only set with sequences: start the shards again
    if manifest is None:
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))
        manifest = {
            "key": key,
            "parts": parts,
            "encoder_name": encoder.name,
            "encoder_spec": encoder_spec,
            "num_posts": num_posts,
            "sequences": sequences,
            "shard_size": shard_size,
            "shards": [],
            "outputs": {},
            "dtypes": {},
            "complete": False,
        }
        _write_json(manifest_path, manifest)
    return manifest


def _encode_fn(encoder, modality: str, preprocessor, sequences: bool):
    """The traced function that runs `encoder` over one batch of inputs and selects what the store keeps."""
    hub = modality == "text" and getattr(preprocessor.tokenizer, "kind", "") == "keras_hub"

    @tf.function(reduce_retracing=True)
    def run(batch):
        full = batch
        if hub:  # masked padding: trimming it changes nothing at the real tokens and saves the compute
            batch = trim_padding(batch)
        out = encoder(batch if isinstance(encoder.input, dict) else batch["images"], training=False)
        selected = _select(out, batch, modality, sequences)
        if hub and sequences:  # back to the full length for the store (the padding stays masked)
            pad = tf.shape(full["padding_mask"])[1] - tf.shape(batch["padding_mask"])[1]
            selected["sequence_output"] = tf.pad(selected["sequence_output"], [[0, 0], [0, pad], [0, 0]])
            selected["padding_mask"] = full["padding_mask"]
        return selected

    return run


def _write_shard(
    directory, name, chunk, run, preprocessor, batch_size, input_names, image_cache, modality, bar
) -> None:
    """Encode one shard's posts and write `name` (`.npz`) atomically."""
    ds = preprocessor.make_dataset(
        chunk,
        batch_size,
        with_labels=False,
        input_names=input_names,
        image_cache=image_cache if modality == "image" else None,
    )
    outputs: dict[str, list] = {}
    for batch in ds:
        for k, v in run(batch).items():
            outputs.setdefault(k, []).append(np.asarray(v).astype(_dtype(k), copy=False))
        if bar is not None:
            bar.add(int(next(iter(batch.values())).shape[0]))
    arrays = {k: np.concatenate(v) for k, v in outputs.items()}
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, ids=np.array([p.id for p in chunk]), **arrays)
    os.replace(tmp, os.path.join(directory, name))


def _dtype(name: str):
    if name == "padding_mask":
        return np.int8
    return np.float16 if name in SEQUENCE_OUTPUTS else np.float32


def _consolidate(directory: str, manifest: dict, total_shards: int, ids: list[str]) -> None:
    """Merge the shards into one `.npy` per output, then drop the shards."""
    shards = [os.path.join(directory, f"shard_{s:05d}.npz") for s in range(total_shards)]
    with np.load(shards[0]) as first:
        names = [k for k in first.files if k != "ids"]
        shapes = {k: first[k].shape[1:] for k in names}
        dtypes = {k: first[k].dtype for k in names}
    columns = {
        k: NpyWriter(
            os.path.join(directory, f"{k}.npy"),
            (len(ids), *shapes[k]),
            dtypes[k],
            tmp=os.path.join(directory, f".{k}.npy.tmp"),
        )
        for k in names
    }
    stored_ids = []
    try:
        for shard in shards:
            with np.load(shard) as data:
                stored_ids.extend(data["ids"].tolist())
                for k in names:
                    columns[k].append(data[k])
        if stored_ids != ids:
            raise ValueError(f"{directory}: the shards do not hold the expected posts; delete the folder to re-extract")
    except BaseException:
        for col in columns.values():
            col.abort()
        raise
    for col in columns.values():
        col.close()
    _write_json(os.path.join(directory, "ids.json"), ids)
    manifest.update(
        outputs={k: list(map(int, shapes[k])) for k in names},
        dtypes={k: str(dtypes[k]) for k in names},
        complete=True,
        shards=[],
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    _write_json(os.path.join(directory, "manifest.json"), manifest)
    for shard in shards:
        os.remove(shard)


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _select(out, batch, modality, sequences):
    if modality == "image":
        res = {"pooled_output": out["pooled_output"]}
        if sequences and "feature_map" in out:
            fmap = out["feature_map"]
            res["feature_map"] = tf.reshape(fmap, (tf.shape(fmap)[0], -1, fmap.shape[-1]))
        return res
    seq, mask = out["sequence_output"], tf.cast(batch["padding_mask"], tf.float32)
    mean = out.get("mean_output")
    if mean is None:
        mean = tf.reduce_sum(seq * mask[..., None], 1) / tf.maximum(tf.reduce_sum(mask, 1, keepdims=True), 1.0)
    res = {"pooled_output": out["pooled_output"], "mean_output": mean}
    if sequences:
        res["sequence_output"] = seq
        res["padding_mask"] = batch["padding_mask"]
    return res


# ============================================================================ datasets
@dataclasses.dataclass(frozen=True)
class StoredFeatures:
    """What a run reads from the store instead of running frozen encoders: per modality a `FeatureSet`
    (None: that modality is not stored), which text output the head reads, and whether it reads sequences
    (token states and feature maps) instead of pooled vectors."""

    text: FeatureSet | None = None
    image: FeatureSet | None = None
    text_feature: str = "pooled_output"
    sequences: bool = False

    @property
    def empty(self) -> bool:
        return self.text is None and self.image is None

    def items(self) -> list[tuple[str, FeatureSet]]:
        """`[(modality, feature set)]` of the stored modalities."""
        return [(m, fs) for m, fs in (("text", self.text), ("image", self.image)) if fs is not None]

    def get(self, modality: str) -> FeatureSet | None:
        return {"text": self.text, "image": self.image}[modality]

    def replace(self, **changes) -> StoredFeatures:
        return dataclasses.replace(self, **changes)


def _feature_columns(stored: StoredFeatures):
    """[(input name, feature set, stored output, tf dtype)] in a fixed order."""
    text, image, text_feature, sequences = stored.text, stored.image, stored.text_feature, stored.sequences
    cols = []
    if text is not None:
        if sequences:
            cols += [
                ("text_features", text, "sequence_output", tf.float32),
                ("text_feature_mask", text, "padding_mask", tf.int32),
                ("text_pooled_features", text, "pooled_output", tf.float32),
            ]
        else:
            cols += [("text_features", text, text_feature, tf.float32)]
    if image is not None:
        if sequences:
            cols += [
                ("image_features", image, "feature_map", tf.float32),
                ("image_pooled_features", image, "pooled_output", tf.float32),
            ]
        else:
            cols += [("image_features", image, "pooled_output", tf.float32)]
    return cols


def stored_input_fn(posts: list[Post], stored: StoredFeatures, input_names=None):
    """A graph function `idx [B] → {input name: [B, ...]}` gathering the stored features of `posts[idx]`
    from the store, reading only those rows (only the inputs in `input_names`)."""
    cols = _feature_columns(stored)
    if input_names is not None:
        cols = [c for c in cols if c[0] in input_names]
    if not cols:
        return None
    ids = [p.id for p in posts]
    rows = [fs.rows(ids) for _, fs, _, _ in cols]
    columns = [fs.column(output) for _, fs, output, _ in cols]
    shapes = [(None, *fs.shape(output)) for _, fs, output, _ in cols]
    dtypes = [tf.as_dtype(col.dtype) for col in columns]
    names = [c[0] for c in cols]
    # token states come cut to the batch's longest caption (their padding is masked: same outputs, less work)
    trim = "text_feature_mask" in names and cols[names.index("text_features")][2] == "sequence_output"
    if trim:
        states, mask = names.index("text_features"), names.index("text_feature_mask")
        shapes[states] = (None, None, *shapes[states][2:])
        shapes[mask] = (None, None)

    def gather(idx):
        arrays = [col[r[idx]] for col, r in zip(columns, rows)]
        if trim:
            length = max(1, int(arrays[mask].sum(axis=1).max(initial=0)))
            arrays[states] = arrays[states][:, :length]
            arrays[mask] = arrays[mask][:, :length]
        return tuple(arrays)

    scale = [fs.standardization.get(output) for _, fs, output, _ in cols]

    def fn(idx):
        arrays = tf.numpy_function(gather, [idx], dtypes, stateful=False)
        out = {}
        for (name, _, _, dtype), a, shape, ms in zip(cols, arrays, shapes, scale):
            x = tf.cast(tf.ensure_shape(a, shape), dtype)
            out[name] = x if ms is None else (x - ms[0]) / ms[1]
        return out

    return fn


def feature_stream(
    posts: list[Post],
    stored: StoredFeatures,
    batch_size: int = 32,
    seed: int = 0,
    epochs: int = 1,
    initial_epoch: int = 0,
    shuffle: bool = False,
    input_names=None,
    class_weights=None,
    balance_to: int | None = None,
    drop_remainder: bool = False,
    with_labels: bool = True,
) -> tuple[tf.data.Dataset, int]:
    """Batches of feature-mode inputs read by rows from the store, epoch by epoch.

    The same contract as `Preprocessor.stream`: epoch e's order comes from
    (seed, e) alone, so a resumed run sees the batches an uninterrupted one does.
    """
    posts, steps = stream_posts(posts, batch_size, seed, with_labels, balance_to, drop_remainder)
    stored_fn = stored_input_fn(posts, stored, input_names)
    flags = {}
    if stored.text is not None:
        flags["text_present"] = tf.constant([float(p.has_text) for p in posts], tf.float32)
    if stored.image is not None:
        flags["image_present"] = tf.constant([float(p.has_image) for p in posts], tf.float32)
    attach = with_labels_of(posts, class_weights, with_labels)

    def assemble(epoch, k, idx):
        inputs = stored_fn(idx) if stored_fn is not None else {}
        for name, flag in flags.items():
            if input_names is None or name in input_names:
                inputs[name] = tf.gather(flag, idx)
        return attach(inputs, idx)

    return epoch_stream(len(posts), batch_size, seed, epochs, initial_epoch, shuffle, drop_remainder, assemble), steps
