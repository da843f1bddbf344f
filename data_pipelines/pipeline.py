"""The tf.data pipeline: posts → batched feature dicts for the models.

`Preprocessor` holds everything learned from the training split (per-channel
mean/std, the tokenizer's vocabulary) and the fixed settings (image size,
normalisation). It is saved with each run and reused by evaluation and by the
exported model, so the three see the same inputs.

Per post: read and decode the image in parallel (`decode_image_bytes`), resize;
per batch: augment (training only, seeded Keras preprocessing layers), normalise,
zero absent images, tokenise, presence flags; then prefetch(AUTOTUNE).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from data_pipelines.augmentation import balance_posts, make_augmenter
from data_pipelines.images import decode_image_bytes, read_image_file
from data_pipelines.post import Post
from data_pipelines.tokenization import VocabularyTokenizer, load_tokenizer

AUTOTUNE = tf.data.AUTOTUNE
NORMALISATIONS = ("mean_std", "unit", "none")


class Preprocessor:
    """Turns posts (or raw strings and image bytes) into model inputs.

    Args:
        image_size: int. Square side images are resized to. Default 64.
        tokenizer: a `VocabularyTokenizer` or `HubTokenizer`; default a new
            `VocabularyTokenizer(sequence_length)` adapted by `fit`.
        sequence_length: int. Used for the default tokenizer. Default 32.
        normalisation: "mean_std" (per-channel statistics of the training
            split, paper 000), "unit" (x / 255) or "none" (0..255, for encoders
            that carry their own `preprocess_input`).
        mean, std: per-channel statistics (set by `fit` for "mean_std").

    Example:
    >>> pre = data_pipelines.pipeline.Preprocessor(image_size=32)
    >>> pre.fit(train_posts)
    >>> ds = pre.make_dataset(train_posts, batch_size=16, training=True, seed=0)
    """

    def __init__(self, image_size=64, tokenizer=None, sequence_length=32,
                 normalisation="mean_std", mean=None, std=None):
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        self.image_size = int(image_size)
        self.tokenizer = tokenizer if tokenizer is not None else VocabularyTokenizer(sequence_length)
        self.normalisation = normalisation
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)

    # ------------------------------------------------------------------ fit
    def fit(self, posts: list[Post], verbose: bool = True, batch_size: int = 64) -> Preprocessor:
        """Learn the tokenizer vocabulary and per-channel mean/std from `posts`."""
        self.tokenizer.adapt([p.text or "" for p in posts])
        if self.normalisation == "mean_std":
            self.mean, self.std = self._channel_stats(posts, verbose, batch_size)
        return self

    def _channel_stats(self, posts, verbose, batch_size):
        paths = [p.image_path for p in posts if p.image_path]
        if not paths:
            return np.zeros(3, np.float32), np.ones(3, np.float32)
        ds = tf.data.Dataset.from_tensor_slices(paths).map(
            lambda p: decode_image_bytes(tf.io.read_file(p), self.image_size)[0],
            num_parallel_calls=AUTOTUNE,
        ).batch(batch_size)
        total = np.zeros(3, np.float64)
        total_sq = np.zeros(3, np.float64)
        n = 0
        bar = keras.utils.Progbar(len(paths), unit_name="image") if verbose else None
        if bar is not None:
            print("Computing per-channel mean/std on the training split", flush=True)
        for batch in ds:
            b = batch.numpy().astype(np.float64)
            total += b.sum(axis=(0, 1, 2))
            total_sq += (b**2).sum(axis=(0, 1, 2))
            n += b.shape[0] * b.shape[1] * b.shape[2]
            if bar is not None:
                bar.add(b.shape[0])
        mean = total / n
        std = np.sqrt(np.maximum(total_sq / n - mean**2, 1e-12))
        return mean.astype(np.float32), np.maximum(std, 1.0).astype(np.float32)

    # ------------------------------------------------------------ transforms
    def normalise(self, images: tf.Tensor) -> tf.Tensor:
        """Map 0..255 pixels to the model's input scale."""
        if self.normalisation == "mean_std":
            if self.mean is None:
                raise ValueError("Preprocessor.fit must run before mean_std normalisation")
            return (images - tf.constant(self.mean)) / tf.constant(self.std)
        if self.normalisation == "unit":
            return images / 255.0
        return images

    def finish_batch(self, images, image_present, texts, augmenter=None) -> dict[str, tf.Tensor]:
        """Batch-level ops shared by training, evaluation and serving."""
        if augmenter is not None:
            images = augmenter(images, training=True)
        images = self.normalise(images) * image_present[:, None, None, None]
        text_present = tf.cast(tf.strings.length(tf.strings.strip(texts)) > 0, tf.float32)
        inputs = {"images": images, "image_present": image_present, "text_present": text_present}
        inputs.update(self.tokenizer(texts))
        return inputs

    def serve(self, text: tf.Tensor, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """Raw strings and encoded image bytes (`""` = no image) → model inputs."""
        images, present = tf.map_fn(
            lambda b: decode_image_bytes(b, self.image_size),
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec((self.image_size, self.image_size, 3), tf.float32),
                tf.TensorSpec((), tf.float32),
            ),
        )
        return self.finish_batch(images, present, text)

    # --------------------------------------------------------------- dataset
    def make_dataset(
        self,
        posts: list[Post],
        batch_size: int = 32,
        training: bool = False,
        shuffle: bool | None = None,
        augment: bool | None = None,
        seed: int = 0,
        balance_to: int | None = None,
        drop_remainder: bool = False,
        with_labels: bool = True,
        input_names=None,
    ) -> tf.data.Dataset:
        """A batched, prefetched `tf.data.Dataset` of `(inputs, label)`.

        Args:
            posts: the posts; with `with_labels`, unlabelled ones are left out.
            training: shuffle and augment by default.
            augment: override augmentation (training split only by default).
            seed: seeds the shuffle and the augmentation: same seed, same batches.
            balance_to: resample each class to this many posts (needs augment).
            input_names: keep only these input keys (a model's `model.input`
                names); Keras matches dict inputs by structure, so a model
                must be fed exactly the keys it declares.
        """
        shuffle = training if shuffle is None else shuffle
        augment = training if augment is None else augment
        if with_labels:
            posts = [p for p in posts if p.label is not None]
        if balance_to:
            if not augment:
                raise ValueError("class balancing by augmentation needs augment=True")
            posts = balance_posts(posts, balance_to, seed=seed)
        if not posts:
            raise ValueError("no posts to build a dataset from")
        columns = {
            "path": tf.constant([p.image_path or "" for p in posts], tf.string),
            "text": tf.constant([p.text or "" for p in posts], tf.string),
        }
        if with_labels:
            columns["label"] = tf.constant([p.label for p in posts], tf.int32)
        ds = tf.data.Dataset.from_tensor_slices(columns)
        if shuffle:
            ds = ds.shuffle(len(posts), seed=seed, reshuffle_each_iteration=True)

        size = self.image_size

        def load(row):
            image, present = decode_image_bytes(read_image_file(row["path"]), size)
            out = {"image": image, "present": present, "text": row["text"]}
            if with_labels:
                out["label"] = row["label"]
            return out

        ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        augmenter = make_augmenter(seed) if augment else None

        def finish(batch):
            inputs = self.finish_batch(batch["image"], batch["present"], batch["text"], augmenter)
            if input_names is not None:
                missing = [k for k in input_names if k not in inputs]
                if missing:
                    raise ValueError(f"the pipeline does not produce the model inputs {missing}")
                inputs = {k: inputs[k] for k in input_names}
            return (inputs, batch["label"]) if with_labels else inputs

        # seeded augmentation draws from a stateful generator: keep that map sequential
        ds = (ds.map(finish) if augment else ds.map(finish, num_parallel_calls=AUTOTUNE, deterministic=True))
        return ds.prefetch(AUTOTUNE)

    # ---------------------------------------------------------- persistence
    def get_config(self) -> dict:
        return {
            "image_size": self.image_size,
            "normalisation": self.normalisation,
            "mean": None if self.mean is None else [float(x) for x in self.mean],
            "std": None if self.std is None else [float(x) for x in self.std],
            "tokenizer": self.tokenizer.get_config(),
        }

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "preprocessing.json"), "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f, indent=2)
        self.tokenizer.save(directory)

    @classmethod
    def load(cls, directory: str) -> Preprocessor:
        with open(os.path.join(directory, "preprocessing.json"), encoding="utf-8") as f:
            config = json.load(f)
        config.pop("tokenizer", None)
        return cls(tokenizer=load_tokenizer(directory), **config)
