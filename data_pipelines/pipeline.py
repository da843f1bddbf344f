"""The tf.data pipeline: posts → batched feature dicts for the models.

`Preprocessor` holds everything learned from the training split (per-channel
mean/std, the tokenizer's vocabulary) and the fixed settings (image size,
normalisation). It is saved with each run and reused by evaluation and by the
exported model, so the three see the same inputs.

`Preprocessor.stream(...)` is the training input: for each epoch e a
permutation drawn from (seed, e), batches, and per batch k an augmentation
drawn from (seed, e, k). Nothing in it carries state from one epoch to the
next, so a run resumed at epoch e sees exactly the batches an uninterrupted one
does. Images come from an `ImageCache` (decoded and resized once, uint8,
read by rows) when one is given, else they are decoded per element.
`make_dataset(...)` is the one-pass version for evaluation and inference.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from data_pipelines.augmentation import augment_batch
from data_pipelines.batching import (  # noqa: F401  (prefetched, trim_padding, TOKEN_KEYS: imported from here too)
    TOKEN_KEYS,
    epoch_stream,
    prefetched,
    stream_posts,
    trim_padding,
    with_labels_of,
)
from data_pipelines.features import StoredFeatures, stored_input_fn
from data_pipelines.images import decode_image_bytes, decode_parallelism, read_image_file, safe_decode_batch
from data_pipelines.lemmatise import make_text_transform
from data_pipelines.post import BALANCED_WEIGHTS, Post
from data_pipelines.progress import Progress
from data_pipelines.tokenization import VocabularyTokenizer, load_tokenizer

AUTOTUNE = tf.data.AUTOTUNE
NORMALISATIONS = ("mean_std", "unit", "none")
#: the stride between epochs in the per-batch augmentation seed
EPOCH_STRIDE = 1_000_003


def class_weights_for(posts: list[Post], num_classes: int, spec) -> np.ndarray | None:
    """Per-class loss weights: None, "balanced" (n / (k * n_c)), "sqrt_balanced" (its square
    root: a milder push towards rare classes) or a {class: weight} mapping."""
    if not spec:
        return None
    if isinstance(spec, str) and spec in BALANCED_WEIGHTS:
        counts = np.bincount([p.label for p in posts if p.label is not None], minlength=num_classes)
        weights = len([p for p in posts if p.label is not None]) / (num_classes * np.maximum(counts, 1))
        if spec == "sqrt_balanced":
            weights = np.sqrt(weights)
        return weights.astype(np.float32)
    return np.asarray(spec, np.float32)


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
        source_size: int or None. Reduce every image to this square size
            before resizing to `image_size` (paper 003: 32x32 images upsampled to 224).
        text_transform: None or "lemmatise" (`data_pipelines.lemmatise`),
            applied to captions before tokenisation, in training and serving alike.

    Example:
    >>> pre = data_pipelines.pipeline.Preprocessor(image_size=32)
    >>> pre.fit(train_posts)
    >>> ds = pre.make_dataset(train_posts, batch_size=16, training=True, seed=0)
    """

    def __init__(
        self,
        image_size=64,
        tokenizer=None,
        sequence_length=32,
        normalisation="mean_std",
        mean=None,
        std=None,
        text_transform=None,
        source_size=None,
    ):
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        self.image_size = int(image_size)
        self.tokenizer = tokenizer if tokenizer is not None else VocabularyTokenizer(sequence_length)
        self.normalisation = normalisation
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        self.text_transform = text_transform
        self.source_size = None if source_size is None else int(source_size)
        self._transform = None

    def transform_texts(self, texts):
        """The caption transform (lemmatisation) as the graph applies it, before tokenisation."""
        if self.text_transform is None:
            return texts
        if self._transform is None:
            self._transform = make_text_transform(self.text_transform)
        return self._transform(texts)

    def trackables(self) -> list:
        """What an exported model must track besides the model: the tokenizer's and the transform's resources."""
        out = list(self.tokenizer.trackables())
        if self.text_transform is not None:
            self.transform_texts(tf.constant([""]))
            out.append(self._transform)
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, posts: list[Post], verbose: bool = True, batch_size: int = 64, image_cache=None) -> Preprocessor:
        """Learn the tokenizer vocabulary and per-channel mean/std from `posts`."""
        texts = [p.text or "" for p in posts]
        if self.text_transform is not None:
            texts = [t.decode("utf-8") for t in self.transform_texts(tf.constant(texts)).numpy()] if texts else []
        self.tokenizer.adapt(texts)
        if self.normalisation == "mean_std":
            self.mean, self.std = self._channel_stats(posts, verbose, batch_size, image_cache)
        return self

    def _channel_stats(self, posts, verbose, batch_size, image_cache=None):
        with_images = [p for p in posts if p.image_path]
        if not with_images:
            return np.zeros(3, np.float32), np.ones(3, np.float32)
        if image_cache is not None:
            rows = np.sort(image_cache.rows_for(with_images))
            batches = (image_cache.images[rows[i : i + 256]] for i in range(0, len(rows), 256))
        else:
            ds = (
                tf.data.Dataset.from_tensor_slices([p.image_path for p in with_images])
                .map(
                    lambda p: decode_image_bytes(tf.io.read_file(p), self.image_size, source_size=self.source_size)[0],
                    num_parallel_calls=decode_parallelism([p.image_path for p in with_images]),
                )
                .batch(batch_size)
            )
            batches = (b.numpy() for b in ds)
        total = np.zeros(3, np.float64)
        total_sq = np.zeros(3, np.float64)
        n = 0
        bar = Progress(len(with_images), "Per-channel mean/std of the training images", "image") if verbose else None
        for batch in batches:
            b = np.asarray(batch, np.float64)
            total += b.sum(axis=(0, 1, 2))
            total_sq += (b**2).sum(axis=(0, 1, 2))
            n += b.shape[0] * b.shape[1] * b.shape[2]
            if bar is not None:
                bar.add(b.shape[0])
        if bar is not None:
            bar.close()
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

    def finish_batch(
        self, images, image_present, texts, augment_seed=None, tokenize: bool = True, raw_text: bool = False
    ) -> dict[str, tf.Tensor]:
        """Batch-level ops shared by training, evaluation and serving (`images` None: no image input;
        `tokenize=False`: no text input; `raw_text`: the captions themselves as input `text`, for a model
        that reads them, e.g. the TF-IDF blend)."""
        text_present = tf.cast(tf.strings.length(tf.strings.strip(texts)) > 0, tf.float32)
        inputs = {"image_present": image_present, "text_present": text_present}
        if raw_text:
            inputs["text"] = texts
        if images is not None:
            if augment_seed is not None:
                images = augment_batch(images, augment_seed)
            inputs["images"] = self.normalise(images) * image_present[:, None, None, None]
        if tokenize:
            inputs.update(self.tokenizer(self.transform_texts(texts)))
        return inputs

    def serve(
        self, text: tf.Tensor, image_bytes: tf.Tensor, trim: bool = True, raw_text: bool = False
    ) -> dict[str, tf.Tensor]:
        """Raw strings and encoded image bytes (`""` = no image) → model inputs.

        Never raises for bad bytes: an undecodable, oversized or empty image is
        a missing image for that post alone. With `trim`, the token inputs of a
        pretrained (keras-hub) encoder are cut to the batch's longest caption:
        the padding is masked, so the outputs are the same and a short caption
        costs less.
        """
        images, present = safe_decode_batch(image_bytes, self.image_size, self.source_size)
        inputs = self.finish_batch(images, present, text, raw_text=raw_text)
        return trim_padding(inputs) if trim and getattr(self.tokenizer, "kind", "") == "keras_hub" else inputs

    # --------------------------------------------------------------- datasets
    def stream(
        self,
        posts: list[Post],
        batch_size: int = 32,
        seed: int = 0,
        epochs: int = 1,
        initial_epoch: int = 0,
        shuffle: bool = True,
        augment: bool = False,
        balance_to: int | None = None,
        drop_remainder: bool = False,
        with_labels: bool = True,
        input_names=None,
        class_weights: np.ndarray | None = None,
        image_cache=None,
        stored: StoredFeatures | None = None,
    ) -> tuple[tf.data.Dataset, int]:
        """Batches for epochs `initial_epoch .. epochs-1`; returns `(dataset, steps_per_epoch)`.

        See the module docstring. With `class_weights` each element is
        `(inputs, label, weight)` with `weight = class_weights[label]`. `stored`
        (a `StoredFeatures`) adds the stored features of frozen encoders (mixed feature mode).
        """
        posts, steps = stream_posts(posts, batch_size, seed, with_labels, balance_to, drop_remainder)
        n = len(posts)
        texts = tf.constant([p.text or "" for p in posts], tf.string)
        attach = with_labels_of(posts, class_weights, with_labels)
        seed_t = tf.constant(int(seed), tf.int64)
        size = self.image_size
        stored_fn = None
        if stored is not None and not stored.empty:
            stored_fn = stored_input_fn(posts, stored, input_names)
        need_images = input_names is None or "images" in input_names
        need_text = input_names is None or any(k in input_names for k in ("token_ids", "padding_mask", "segment_ids"))
        has_image = tf.constant([1.0 if p.image_path else 0.0 for p in posts], tf.float32)

        if not need_images:  # a text-only model: no image is read or decoded

            def load_images(idx):
                return None, tf.gather(has_image, idx)
        elif image_cache is not None:
            rows = tf.constant(image_cache.rows_for(posts), tf.int64)

            def load_images(idx):
                images, present = tf.numpy_function(
                    image_cache.gather, [tf.gather(rows, idx)], [tf.uint8, tf.float32], stateful=False
                )
                images = tf.cast(tf.ensure_shape(images, (None, size, size, 3)), tf.float32)
                return images, tf.ensure_shape(present, (None,))
        else:
            paths = tf.constant([p.image_path or "" for p in posts], tf.string)
            parallel = decode_parallelism([p.image_path for p in posts if p.image_path])  # within the pixel budget

            def load_images(idx):
                return tf.map_fn(
                    lambda i: decode_image_bytes(
                        read_image_file(tf.gather(paths, i)), size, source_size=self.source_size
                    ),
                    idx,
                    parallel_iterations=parallel,
                    fn_output_signature=(tf.TensorSpec((size, size, 3), tf.float32), tf.TensorSpec((), tf.float32)),
                )

        def assemble(epoch, k, idx):
            images, present = load_images(idx)
            aug_seed = tf.stack([seed_t, epoch * EPOCH_STRIDE + k]) if augment else None
            inputs = self.finish_batch(
                images,
                present,
                tf.gather(texts, idx),
                aug_seed,
                tokenize=need_text,
                raw_text=input_names is not None and "text" in input_names,
            )
            if stored_fn is not None:
                inputs.update(stored_fn(idx))
            if input_names is not None:
                missing = [name for name in input_names if name not in inputs]
                if missing:
                    raise ValueError(f"the pipeline does not produce the model inputs {missing}")
                inputs = {name: inputs[name] for name in input_names}
            return attach(inputs, idx)

        ds = epoch_stream(n, batch_size, seed, epochs, initial_epoch, shuffle, drop_remainder, assemble)
        return ds, steps

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
        image_cache=None,
        class_weights=None,
    ) -> tf.data.Dataset:
        """One pass over `posts` as `(inputs, label)` batches (epoch 0 of `stream`).

        Args:
            posts: the posts; with `with_labels`, unlabelled ones are left out.
            training: shuffle and augment by default.
            augment: override augmentation (training split only by default).
            seed: seeds the shuffle and the augmentation: same seed, same batches.
            balance_to: resample each class to this many posts.
            input_names: keep only these input keys (a model's `model.input`
                names); Keras matches dict inputs by structure, so a model
                must be fed exactly the keys it declares.
        """
        shuffle = training if shuffle is None else shuffle
        augment = training if augment is None else augment
        ds, _ = self.stream(
            posts,
            batch_size,
            seed=seed,
            epochs=1,
            shuffle=shuffle,
            augment=augment,
            balance_to=balance_to,
            drop_remainder=drop_remainder,
            with_labels=with_labels,
            input_names=input_names,
            image_cache=image_cache,
            class_weights=class_weights,
        )
        return ds

    # ---------------------------------------------------------- persistence
    def get_config(self) -> dict:
        return {
            "image_size": self.image_size,
            "normalisation": self.normalisation,
            "mean": None if self.mean is None else [float(x) for x in self.mean],
            "std": None if self.std is None else [float(x) for x in self.std],
            "tokenizer": self.tokenizer.get_config(),
            "text_transform": self.text_transform,
            "source_size": self.source_size,
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
