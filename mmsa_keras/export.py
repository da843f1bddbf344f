"""SavedModel export with a raw-input serving signature.

The exported model's `serve` signature (also `serving_default`) takes

* `text`: string `[B]`, the captions ("" for a post without text);
* `image_bytes`: string `[B]`, encoded image file contents ("" for no image);

and returns `probabilities` float32 `[B, C]` and `label` string `[B]`. Decoding,
resizing, normalisation and tokenisation run inside the graph with the same
functions as training (`data_pipelines.pipeline.Preprocessor.serve`).

Beside the SavedModel files, the export directory holds `model.keras`,
`preprocessing.json`, `tokenizer.json` and `labels.json`.
"""

from __future__ import annotations

import json
import os
import shutil

import keras
import tensorflow as tf

from data_pipelines.pipeline import Preprocessor
from mmsa_keras.models.base import class_scores


def export_model(model: keras.Model, preprocessor: Preprocessor, class_names, out_dir: str) -> str:
    """Write `model` with `preprocessor` as a SavedModel taking raw inputs."""
    class_names = [str(c) for c in class_names]
    input_names = list(model.input.keys())
    labels = tf.constant(class_names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    for trackable in preprocessor.tokenizer.trackables():
        archive.track(trackable)

    def serve(text, image_bytes):
        inputs = preprocessor.serve(text, image_bytes)
        inputs = {name: inputs[name] for name in input_names}
        probs = tf.cast(class_scores(model(inputs, training=False)), tf.float32)
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, axis=-1))}

    signature = [tf.TensorSpec([None], tf.string, name="text"),
                 tf.TensorSpec([None], tf.string, name="image_bytes")]
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.add_endpoint("serving_default", serve, input_signature=signature)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    archive.write_out(out_dir, verbose=False)
    model.save(os.path.join(out_dir, "model.keras"))
    preprocessor.save(out_dir)
    with open(os.path.join(out_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(class_names, f)
    return out_dir


def export_run(run_dir: str, out_dir: str) -> str:
    """Export the model of a training run directory."""
    from mmsa_keras.runs import read_json

    config = read_json(os.path.join(run_dir, "run_config.json"))
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    return export_model(model, Preprocessor.load(run_dir), config["class_names"], out_dir)


class ExportedModel:
    """Load an exported model and predict on raw captions and image files.

    Example:
    >>> m = mmsa_keras.export.ExportedModel("runs/demo/export")
    >>> m.predict(["what a lovely day"], [None])
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.loaded = tf.saved_model.load(directory)
        self.serve = self.loaded.signatures["serve"] if "serve" in self.loaded.signatures else self.loaded.serve
        with open(os.path.join(directory, "labels.json"), encoding="utf-8") as f:
            self.class_names = json.load(f)

    def predict_bytes(self, texts, image_bytes):
        out = self.serve(text=tf.constant(list(texts), tf.string),
                         image_bytes=tf.constant(list(image_bytes), tf.string))
        return out["probabilities"].numpy()

    def predict(self, texts, image_paths):
        """`texts`: list of str or None; `image_paths`: list of paths or None."""
        raw = []
        for path in image_paths:
            if path:
                with open(path, "rb") as f:
                    raw.append(f.read())
            else:
                raw.append(b"")
        return self.predict_bytes([t or "" for t in texts], raw)
