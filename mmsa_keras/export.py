"""SavedModel export with a raw-input serving signature.

The exported model's `serve` signature (also `serving_default`) takes

* `text`: string `[B]`, the captions ("" for a post without text);
* `image_bytes`: string `[B]`, encoded image file contents ("" for no image);

and returns `probabilities` float32 `[B, C]` and `label` string `[B]`. Decoding,
resizing, normalisation and tokenisation run inside the graph with the same
functions as training (`data_pipelines.pipeline.Preprocessor.serve`). The
signature never raises for bad image bytes: an undecodable, oversized (more than
90 megapixels announced) or empty element is a missing image for that post
alone, and an empty batch returns empty outputs. TF Serving hosts it as is.

The SavedModel loads in a Python that imports only `tensorflow` and
`tensorflow_text` (the keras-hub tokenizers' ops):
`tf.saved_model.load(DIR).signatures["serve"](text=..., image_bytes=...)`.
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
from mmsa_keras.custom_objects import fast_keras_saving
from mmsa_keras.models.base import class_scores


def export_model(model: keras.Model, preprocessor: Preprocessor, class_names, out_dir: str) -> str:
    """Write `model` with `preprocessor` as a SavedModel taking raw inputs."""
    class_names = [str(c) for c in class_names]
    input_names = list(model.input.keys())
    labels = tf.constant(class_names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    for trackable in preprocessor.trackables():
        archive.track(trackable)

    num_classes = len(class_names)

    def run(text, image_bytes):
        inputs = preprocessor.serve(text, image_bytes)
        inputs = {name: inputs[name] for name in input_names}
        return tf.cast(class_scores(model(inputs, training=False)), tf.float32)

    def serve(text, image_bytes):
        tf.debugging.assert_equal(
            tf.size(text), tf.size(image_bytes), message="text and image_bytes must have the same length"
        )
        probs = tf.cond(
            tf.size(text) > 0, lambda: run(text, image_bytes), lambda: tf.zeros((0, num_classes), tf.float32)
        )  # an empty batch: empty outputs
        probs = tf.ensure_shape(probs, (None, num_classes))
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, axis=-1))}

    signature = [tf.TensorSpec([None], tf.string, name="text"), tf.TensorSpec([None], tf.string, name="image_bytes")]
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.add_endpoint("serving_default", serve, input_signature=signature)
    tmp = f"{os.path.normpath(out_dir)}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    fast_keras_saving()
    model.save(os.path.join(tmp, "model.keras"))
    preprocessor.save(tmp)
    with open(os.path.join(tmp, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(class_names, f)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def export_run(run_dir: str, out_dir: str) -> str:
    """Export the model of a training run directory."""
    from mmsa_keras.runs import Run

    run = Run(run_dir)
    return export_model(run.model, run.preprocessor, run.class_names, out_dir)


class ExportedModel:
    """Load an exported model and predict on raw captions and image files.

    Example:
    >>> m = mmsa_keras.export.ExportedModel("runs/demo/export")
    >>> m.predict(["what a lovely day"], [None])
    """

    def __init__(self, directory: str):
        from mmsa_keras.errors import RunError

        if not os.path.exists(os.path.join(directory, "saved_model.pb")):
            raise RunError(
                f"{directory}: not an exported model (no saved_model.pb); create one with `mmsa export RUN_DIR OUT_DIR`"
            )
        import tensorflow_text  # noqa: F401  (registers the ops of keras-hub tokenizers)

        self.directory = directory
        self.loaded = tf.saved_model.load(directory)
        self.serve = self.loaded.signatures["serve"] if "serve" in self.loaded.signatures else self.loaded.serve
        with open(os.path.join(directory, "labels.json"), encoding="utf-8") as f:
            self.class_names = json.load(f)

    def predict_bytes(self, texts, image_bytes):
        out = self.serve(
            text=tf.constant(list(texts), tf.string), image_bytes=tf.constant(list(image_bytes), tf.string)
        )
        return out["probabilities"].numpy()

    def predict(self, texts, image_paths):
        """`texts`: list of str or None; `image_paths`: list of paths or None (a bad image counts as missing)."""
        from data_pipelines.images import MAX_IMAGE_BYTES, read_regular_file

        raw = []
        for path in image_paths:
            data = b""
            if path:
                data, problem = read_regular_file(path, MAX_IMAGE_BYTES)
                data = b"" if problem is not None or len(data) > MAX_IMAGE_BYTES else data
            raw.append(data)
        return self.predict_bytes([t or "" for t in texts], raw)
