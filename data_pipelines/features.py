"""A feature store on disk: frozen encoders run once, many heads train on their outputs.

`extract_features(encoder, modality, posts, preprocessor, store)` runs a frozen
encoder over posts in batches (with a progress bar) and writes shards of its
outputs under `store/<modality>-<encoder>-<key>/`. The key hashes everything
the features depend on: the encoder's config, its weights (the values, so an
ImageNet download, a weights file or a seeded random init are all told apart),
the preprocessing (image size, normalisation and statistics; tokenizer and
vocabulary) and the posts' content (ids, captions, image file bytes). A change
in any of them gives a new key, so nothing stale is reused. Shards are written
atomically and recorded in `manifest.json` as they finish: an interrupted
extraction resumes at the first missing shard.

Stored per post: text — `pooled_output`, `mean_output` (masked mean of the
token states) and, with `sequences=True`, `sequence_output` + `padding_mask`;
image — `pooled_output` and, with `sequences=True`, the flattened
`feature_map`. `FeatureSet.arrays(ids, names)` gathers rows by post id and
`feature_dataset(...)` turns them into the inputs of a feature-mode model.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np
import tensorflow as tf

from data_pipelines.post import Post

FORMAT_VERSION = 1


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
    """
    import keras

    def walk(layer):
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "layers", "input_layers",
                                                                          "output_layers", "build_config")}
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
        return _sha({k: cfg[k] for k in ("image_size", "normalisation", "mean", "std")})
    tok = preprocessor.tokenizer
    vocab = tok.vocabulary() if hasattr(tok, "vocabulary") else None
    return _sha({"tokenizer": tok.get_config(), "vocabulary": vocab})


class FeatureSet:
    """The stored outputs of one encoder over one set of posts."""

    def __init__(self, directory: str):
        self.directory = directory
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        if not self.manifest.get("complete"):
            raise ValueError(f"{directory}: extraction did not finish; run it again to resume")
        self._index = None

    @property
    def names(self) -> list[str]:
        return list(self.manifest["outputs"])

    def shape(self, name: str) -> tuple:
        return tuple(self.manifest["outputs"][name])

    def _load(self):
        if self._index is None:
            ids, columns = [], {n: [] for n in self.names}
            for shard in self.manifest["shards"]:
                with np.load(os.path.join(self.directory, shard)) as data:
                    ids.extend(data["ids"].tolist())
                    for n in self.names:
                        columns[n].append(data[n])
            self._columns = {n: np.concatenate(v) for n, v in columns.items()}
            self._index = {pid: i for i, pid in enumerate(ids)}
        return self._index

    def arrays(self, ids, names=None) -> dict[str, np.ndarray]:
        """Rows of the named outputs for these post ids, in that order."""
        index = self._load()
        missing = [i for i in ids if i not in index]
        if missing:
            raise KeyError(f"{self.directory}: no features for {len(missing)} posts (first {missing[0]!r})")
        rows = np.array([index[i] for i in ids], dtype=np.int64)
        return {n: self._columns[n][rows] for n in (names or self.names)}


def extract_features(encoder, modality: str, posts: list[Post], preprocessor, store: str,
                     batch_size: int = 32, shard_size: int = 256, sequences: bool = False,
                     verbose: bool = True, stop_after_shards: int | None = None,
                     encoder_spec: dict | None = None) -> FeatureSet:
    """Run `encoder` over `posts` once and store its outputs (see the module docstring).

    Returns the `FeatureSet`; if the same features are already stored, nothing
    runs. `encoder_spec` (e.g. `{"name": "resnet50", "image_size": 224}`) joins
    the key; `stop_after_shards` stops early (to test resuming).
    """
    import keras

    if modality not in ("text", "image"):
        raise ValueError("modality must be 'text' or 'image'")
    posts = sorted({p.id: p for p in posts}.values(), key=lambda p: p.id)
    parts = {"format": FORMAT_VERSION, "modality": modality, "sequences": sequences,
             "encoder": architecture_fingerprint(encoder), "encoder_spec": encoder_spec,
             "weights": weights_fingerprint(encoder),
             "preprocessing": preprocessing_fingerprint(preprocessor, modality),
             "posts": posts_fingerprint(posts, modality)}
    key = _sha(parts)[:16]
    directory = os.path.join(store, f"{modality}-{encoder.name}-{key}")
    manifest_path = os.path.join(directory, "manifest.json")
    os.makedirs(directory, exist_ok=True)
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("complete"):
            if verbose:
                print(f"features of {encoder.name} for {len(posts)} posts found in {directory}")
            return FeatureSet(directory)
    else:
        manifest = {"key": key, "parts": parts, "encoder_name": encoder.name, "num_posts": len(posts),
                    "shards": [], "outputs": {}, "complete": False}
    input_names = list(encoder.input) if isinstance(encoder.input, dict) else ["images"]
    num_shards = (len(posts) + shard_size - 1) // shard_size
    bar = keras.utils.Progbar(len(posts), unit_name="post") if verbose else None
    if verbose:
        print(f"Extracting {modality} features with {encoder.name} into {directory}")
    done_now = 0
    for s in range(num_shards):
        name = f"shard_{s:05d}.npz"
        chunk = posts[s * shard_size:(s + 1) * shard_size]
        if name in manifest["shards"]:
            if bar is not None:
                bar.add(len(chunk))
            continue
        if stop_after_shards is not None and done_now >= stop_after_shards:
            return None
        ds = preprocessor.make_dataset(chunk, batch_size, with_labels=False, input_names=input_names)
        outputs: dict[str, list] = {}
        for batch in ds:
            out = encoder(batch if isinstance(encoder.input, dict) else batch["images"], training=False)
            for k, v in _select(out, batch, modality, sequences).items():
                outputs.setdefault(k, []).append(np.asarray(v, dtype=np.float32 if k != "padding_mask" else np.int32))
            if bar is not None:
                bar.add(int(next(iter(batch.values())).shape[0]))
        arrays = {k: np.concatenate(v) for k, v in outputs.items()}
        tmp = os.path.join(directory, f".{name}.tmp.npz")
        np.savez(tmp, ids=np.array([p.id for p in chunk]), **arrays)
        os.replace(tmp, os.path.join(directory, name))
        manifest["shards"].append(name)
        manifest["outputs"] = {k: list(v.shape[1:]) for k, v in arrays.items()}
        _write_manifest(manifest_path, manifest)
        done_now += 1
    manifest["complete"] = True
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write_manifest(manifest_path, manifest)
    return FeatureSet(directory)


def _write_manifest(path, manifest):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
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


def feature_inputs(posts: list[Post], text: FeatureSet | None, image: FeatureSet | None,
                   text_feature: str = "pooled_output", sequences: bool = False) -> dict[str, np.ndarray]:
    """The feature-mode model inputs for `posts` (see `mmsa_keras.models.base`)."""
    ids = [p.id for p in posts]
    out = {}
    if text is not None:
        if sequences:
            a = text.arrays(ids, ["sequence_output", "padding_mask", "pooled_output"])
            out.update(text_features=a["sequence_output"], text_feature_mask=a["padding_mask"],
                       text_pooled_features=a["pooled_output"])
        else:
            out["text_features"] = text.arrays(ids, [text_feature])[text_feature]
        out["text_present"] = np.array([float(p.has_text) for p in posts], np.float32)
    if image is not None:
        if sequences:
            a = image.arrays(ids, ["feature_map", "pooled_output"])
            out.update(image_features=a["feature_map"], image_pooled_features=a["pooled_output"])
        else:
            out["image_features"] = image.arrays(ids, ["pooled_output"])["pooled_output"]
        out["image_present"] = np.array([float(p.has_image) for p in posts], np.float32)
    return out


def feature_dataset(posts: list[Post], text: FeatureSet | None, image: FeatureSet | None, batch_size: int = 32,
                    shuffle: bool = False, seed: int = 0, text_feature: str = "pooled_output",
                    sequences: bool = False, input_names=None) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `(feature-mode inputs, label)` read from the store."""
    posts = [p for p in posts if p.label is not None]
    inputs = feature_inputs(posts, text, image, text_feature, sequences)
    if input_names is not None:
        inputs = {k: inputs[k] for k in input_names}
    ds = tf.data.Dataset.from_tensor_slices((inputs, np.array([p.label for p in posts], np.int32)))
    if shuffle:
        ds = ds.shuffle(len(posts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
