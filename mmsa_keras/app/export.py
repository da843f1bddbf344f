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
`preprocessing.json`, `tokenizer.json`, `labels.json` and the project's marker
`.mmsa.json`. An export is written into a temporary sibling folder and swapped
in; it replaces only an earlier export (never a run, the current folder or a
folder of other files), and a failed export leaves nothing behind.

An exported SavedModel is a program: TensorFlow runs its graph when it loads.
Load only exports you trust, as with any SavedModel.
"""

from __future__ import annotations

import errno
import json
import os
import shutil

import keras
import tensorflow as tf

from data_pipelines.images import MAX_IMAGE_BYTES, read_regular_file
from data_pipelines.outputs import OutputDirError, check_not_enclosing, claim_output_dir, is_owned, write_marker
from data_pipelines.pipeline import Preprocessor
from mmsa_keras.app.runs import Run
from mmsa_keras.custom_objects import fast_keras_saving
from mmsa_keras.errors import RunError, UsageError
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
        inputs = preprocessor.serve(text, image_bytes, raw_text="text" in input_names)
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
    _write_atomically(out_dir, lambda tmp: _write_export(archive, model, preprocessor, class_names, tmp))
    return out_dir


def _write_export(archive, model, preprocessor, class_names, directory: str) -> None:
    archive.write_out(directory, verbose=False)
    fast_keras_saving()
    model.save(os.path.join(directory, "model.keras"))
    preprocessor.save(directory)
    with open(os.path.join(directory, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(class_names, f)
    write_marker(directory, "export")


def _write_atomically(out_dir: str, write) -> None:
    """`write(tmp)` into a temporary sibling of `out_dir`, then swap it in.

    `out_dir` must be new, empty or an earlier export (checked first); a failed
    write (a full disk included) removes the temporary folder and leaves
    `out_dir` as it was. An earlier export is replaced by two renames; an empty
    folder the user made is kept and filled.
    """
    out_dir = os.path.normpath(out_dir)
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise OutputDirError(f"OUT_DIR {out_dir} is a file, not a folder; choose a folder")
    existed = os.path.isdir(out_dir)
    if existed and os.listdir(out_dir) and not is_owned(out_dir, "export"):
        claim_output_dir(out_dir, "export", flag="OUT_DIR")  # raises with the one-line reason
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out_dir)}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        write(tmp)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise RunError(f"{out_dir}: no space left on the device while exporting; nothing was written") from None
        raise
    if not existed:
        os.replace(tmp, out_dir)
    elif not os.listdir(out_dir):  # an empty folder the user made: keep it, fill it
        for name in os.listdir(tmp):
            os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
        os.rmdir(tmp)
    else:  # an earlier export: swap, then remove the old one
        old = os.path.join(parent, f".{os.path.basename(out_dir)}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)


def export_run(run_dir: str, out_dir: str) -> str:
    """Export the model of a training run directory."""
    check_not_enclosing(out_dir, {"the run being exported": run_dir}, flag="OUT_DIR")
    run = Run(run_dir)
    return export_model(run.model, run.preprocessor, run.class_names, out_dir)


class ExportedModel:
    """Load an exported model and predict on raw captions and image files.

    Example:
    >>> m = mmsa_keras.app.export.ExportedModel("runs/demo/export")
    >>> m.predict(["what a lovely day"], [None])
    """

    def __init__(self, directory: str):
        if not os.path.isdir(directory):
            raise UsageError(f"{directory}: no such folder; create an export with `mmsa export RUN_DIR {directory}`")
        if not os.path.exists(os.path.join(directory, "saved_model.pb")):
            if os.path.exists(os.path.join(directory, "run_config.json")):
                raise UsageError(
                    f"{directory} is a training run, not an export; export it first: "
                    f"`mmsa export {directory} {os.path.join(directory, 'export')}`"
                )
            raise UsageError(
                f"{directory}: not an exported model (no saved_model.pb); create one with `mmsa export RUN_DIR OUT_DIR`"
            )
        import tensorflow_text  # noqa: F401  (registers the ops of keras-hub tokenizers)

        self.directory = directory
        damaged = f"the export is damaged: write it again with `mmsa export RUN_DIR {directory}`"
        try:
            self.loaded = tf.saved_model.load(directory)
        except Exception as e:  # noqa: BLE001 - a damaged export fails in many ways (OpError, IndexError, ...)
            first = (str(getattr(e, "message", "") or e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise RunError(f"{os.path.join(directory, 'variables')}: unreadable ({first}); {damaged}") from None
        self.serve = self.loaded.signatures["serve"] if "serve" in self.loaded.signatures else self.loaded.serve
        labels = os.path.join(directory, "labels.json")
        try:
            with open(labels, encoding="utf-8") as f:
                self.class_names = json.load(f)
        except (OSError, ValueError) as e:
            raise RunError(f"{labels}: unreadable ({type(e).__name__}); {damaged}") from None

    def predict_bytes(self, texts, image_bytes):
        out = self.serve(
            text=tf.constant(list(texts), tf.string), image_bytes=tf.constant(list(image_bytes), tf.string)
        )
        return out["probabilities"].numpy()

    def predict(self, texts, image_paths):
        """`texts`: list of str or None; `image_paths`: list of paths or None (a bad image counts as missing)."""
        raw = []
        for path in image_paths:
            data = b""
            if path:
                data, problem = read_regular_file(path, MAX_IMAGE_BYTES)
                data = b"" if problem is not None or len(data) > MAX_IMAGE_BYTES else data
            raw.append(data)
        return self.predict_bytes([t or "" for t in texts], raw)
