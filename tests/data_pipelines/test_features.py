import json
import os

import keras
import numpy as np
import pytest

from data_pipelines.datasets import load_dataset
from data_pipelines.features import StoredColumn, StoredFeatures, extract_features, feature_stream
from data_pipelines.pipeline import Preprocessor
from data_pipelines.report import DataReport
from mmsa_keras.encoders import build_image_encoder, build_text_encoder


@pytest.fixture()
def setup(synthetic_dir):
    posts = load_dataset(synthetic_dir, "mvsa", report=DataReport(max_messages=0))["all"][:40]
    pre = Preprocessor(image_size=16, sequence_length=8).fit(posts, verbose=False)
    keras.utils.set_random_seed(0)
    image = build_image_encoder("small_cnn", image_size=16, filters=(4,), output_dim=6)
    text = build_text_encoder(
        "bag_of_embeddings", vocabulary_size=pre.tokenizer.vocabulary_size, sequence_length=8, hidden_dim=5
    )
    return posts, pre, image, text


def test_extraction_is_cached_and_matches_the_encoder(setup, tmp_path):
    posts, pre, image, text = setup
    fs = extract_features(image, "image", posts, pre, str(tmp_path), shard_size=16, verbose=False)
    assert fs.manifest["complete"] and len(fs.ids) == 40
    column = fs.column("pooled_output")  # read by rows from disk, never loaded or mapped whole
    full = np.load(tmp_path / os.path.basename(fs.directory) / "pooled_output.npy")
    assert isinstance(column, StoredColumn) and column.shape == full.shape and column.dtype == full.dtype
    for rows in ([5, 3, 4, 3, 39, 0], slice(2, 9), np.arange(40)[::-1], []):
        np.testing.assert_array_equal(column[rows], full[rows])
    with pytest.raises(IndexError):
        column[[40]]
    assert not list(tmp_path.glob("*/shard_*"))  # shards consolidated into one .npy per output
    again = extract_features(image, "image", posts, pre, str(tmp_path), shard_size=16, verbose=False)
    assert again.directory == fs.directory and again.manifest["finished"] == fs.manifest["finished"]
    x = next(iter(pre.make_dataset(posts[:8], batch_size=8, with_labels=False)))
    expected = np.asarray(image(x["images"])["pooled_output"])
    got = fs.arrays([p.id for p in posts[:8]], ["pooled_output"])["pooled_output"]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    pooled_only = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False)
    assert set(pooled_only.names) == {"pooled_output", "mean_output"}
    tfs = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False, sequences=True)
    assert tfs.directory == pooled_only.directory  # extended in place: one set per encoder and data
    assert set(tfs.names) == {"pooled_output", "mean_output", "sequence_output", "padding_mask"}
    assert tfs.column("sequence_output").dtype == np.float16
    assert extract_features(text, "text", posts, pre, str(tmp_path), verbose=False).names == tfs.names


def test_any_change_invalidates_the_cache(setup, tmp_path):
    posts, pre, image, _ = setup
    base = extract_features(image, "image", posts, pre, str(tmp_path), verbose=False).directory
    # another caption does not touch image features, another image file does
    edited = [p for p in posts]
    os.makedirs(tmp_path / "img", exist_ok=True)
    src = next(p for p in posts if p.image_path)
    copy = tmp_path / "img" / "changed.jpg"
    data = bytearray(open(src.image_path, "rb").read())
    copy.write_bytes(bytes(data))
    from data_pipelines.post import Post

    edited[posts.index(src)] = Post(src.id, src.text, str(copy), src.label)
    assert extract_features(image, "image", edited, pre, str(tmp_path), verbose=False).directory == base
    from tests.data_pipelines.bad_input import jpeg_bytes

    copy.write_bytes(jpeg_bytes(16, colour=(1, 2, 3)))
    assert extract_features(image, "image", edited, pre, str(tmp_path), verbose=False).directory != base
    # other weights, other preprocessing
    other = build_image_encoder("small_cnn", image_size=16, filters=(4,), output_dim=6)
    assert extract_features(other, "image", posts, pre, str(tmp_path), verbose=False).directory != base
    pre2 = Preprocessor(image_size=16, sequence_length=8, normalisation="unit").fit(posts, verbose=False)
    assert extract_features(image, "image", posts, pre2, str(tmp_path), verbose=False).directory != base


def test_an_interrupted_extraction_resumes(setup, tmp_path):
    posts, pre, _, text = setup
    assert (
        extract_features(text, "text", posts, pre, str(tmp_path), shard_size=8, verbose=False, stop_after_shards=2)
        is None
    )
    directory = next(p for p in (tmp_path).iterdir() if p.is_dir())
    manifest = json.loads((directory / "manifest.json").read_text())
    assert not manifest["complete"]
    assert sorted(p.name for p in directory.glob("shard_*")) == ["shard_00000.npz", "shard_00001.npz"]
    # mark the first shard: if the resumed extraction reuses it, the mark reaches the final set
    with np.load(directory / "shard_00000.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["pooled_output"] = np.full_like(arrays["pooled_output"], 7.0)
    np.savez(directory / "shard_00000.npz", **arrays)
    fs = extract_features(text, "text", posts, pre, str(tmp_path), shard_size=8, verbose=False)
    assert fs.manifest["complete"] and len(fs.ids) == 40
    ids = sorted(p.id for p in posts)
    assert np.all(fs.arrays(ids[:8])["pooled_output"] == 7.0)  # shard 0 was not computed again
    fresh = extract_features(text, "text", posts, pre, str(tmp_path / "fresh"), shard_size=8, verbose=False)
    np.testing.assert_allclose(fs.arrays(ids[8:])["pooled_output"], fresh.arrays(ids[8:])["pooled_output"], atol=1e-6)


def test_feature_dataset_feeds_a_feature_mode_model(setup, tmp_path):
    from mmsa_keras.registry import create_model

    posts, pre, image, text = setup
    t = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False)
    i = extract_features(image, "image", posts, pre, str(tmp_path), verbose=False)
    model = create_model(
        "native_cat",
        text_feature_shape=t.shape("pooled_output"),
        image_feature_shape=i.shape("pooled_output"),
        hidden_dim=4,
        head_hidden_dim=4,
    )
    ds, _ = feature_stream(posts, StoredFeatures(t, i), batch_size=10, input_names=list(model.input))
    x, y = next(iter(ds))
    assert set(x) == set(model.input) and x["text_features"].shape == (10, 5)
    np.testing.assert_array_equal(x["image_present"].numpy(), [float(p.has_image) for p in posts[:10]])
    model.compile("adam", "sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(ds, epochs=1, verbose=0).history["loss"][0])


def test_extract_sequences_for_stores_them_on_the_first_pass(setup, tmp_path):
    """A table whose later rows need token states asks for them up front: the encoder runs once."""
    from data_pipelines.features import extract_sequences_for

    posts, pre, image, text = setup
    with extract_sequences_for({("text", text.name)}):
        pooled_row = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False)
        image_row = extract_features(image, "image", posts, pre, str(tmp_path), verbose=False)
    assert set(pooled_row.names) == {"pooled_output", "mean_output", "sequence_output", "padding_mask"}
    assert set(image_row.names) == {"pooled_output"}  # not asked for: no maps
    sequence_row = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False, sequences=True)
    assert sequence_row.directory == pooled_row.directory
    assert sequence_row.manifest["finished"] == pooled_row.manifest["finished"]  # not extracted again
    # outside the block a pooled request stores pooled vectors only
    fresh = extract_features(text, "text", posts, pre, str(tmp_path / "fresh"), verbose=False)
    assert set(fresh.names) == {"pooled_output", "mean_output"}


def test_stored_token_states_arrive_cut_to_the_batch_and_change_nothing(setup, tmp_path):
    """Feature-mode CMAC reads the token states cut to each batch's longest caption (the rest is padding):
    its outputs equal those on the full-length states."""
    from mmsa_keras.registry import create_model
    from tests.helpers import feature_inputs

    posts, _, image, _ = setup
    pre = Preprocessor(image_size=16, sequence_length=40).fit(posts, verbose=False)
    keras.utils.set_random_seed(1)
    text = build_text_encoder(
        "bag_of_embeddings", vocabulary_size=pre.tokenizer.vocabulary_size, sequence_length=40, hidden_dim=5
    )
    t = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False, sequences=True)
    i = extract_features(image, "image", posts, pre, str(tmp_path), verbose=False, sequences=True)
    model = create_model(
        "cmac",
        text_feature_shape=(None, 5),  # as training builds it (`feature_shapes`)
        image_feature_shape=i.shape("feature_map"),
        hidden_dim=8,
        head_hidden_dim=4,
        num_heads=2,
        image_channels=4,
    )
    ds, _ = feature_stream(posts, StoredFeatures(t, i, sequences=True), batch_size=8, input_names=list(model.input))
    lengths = t.arrays([p.id for p in posts], ["padding_mask"])["padding_mask"].sum(1)
    full = feature_inputs(posts, StoredFeatures(t, i, sequences=True))
    assert full["text_features"].shape[1] == 40 and lengths.max() < 40
    for b, (x, _) in enumerate(ds):
        rows = slice(8 * b, 8 * b + 8)
        assert x["text_features"].shape[1] == x["text_feature_mask"].shape[1] == lengths[rows].max()
        whole = {k: v[rows] for k, v in full.items() if k in model.input}
        np.testing.assert_allclose(
            np.asarray(model(x, training=False)["probabilities"]),
            np.asarray(model(whole, training=False)["probabilities"]),
            atol=1e-6,
        )


def test_the_same_encoder_built_twice_reuses_the_store(setup, tmp_path):
    posts, _, _, _ = setup
    pre = Preprocessor(image_size=32, sequence_length=8, normalisation="none").fit(posts, verbose=False)
    dirs = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        enc = build_image_encoder("mobilenet_v2", weights=None, image_size=32)
        dirs.append(extract_features(enc, "image", posts, pre, str(tmp_path), verbose=False).directory)
    assert dirs[0] == dirs[1]


def test_feature_stream_epochs_depend_only_on_seed_and_epoch(setup, tmp_path):
    posts, pre, image, text = setup
    t = extract_features(text, "text", posts, pre, str(tmp_path), verbose=False)
    full, steps = feature_stream(posts, StoredFeatures(t), batch_size=8, seed=1, epochs=3, shuffle=True)
    resumed, _ = feature_stream(posts, StoredFeatures(t), batch_size=8, seed=1, epochs=3, initial_epoch=1, shuffle=True)
    full = list(full)
    assert len(full) == 3 * steps
    for (xa, ya), (xb, yb) in zip(full[steps:], resumed):
        np.testing.assert_array_equal(xa["text_features"].numpy(), xb["text_features"].numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_several_processes_fill_one_store_by_shard_index(setup, tmp_path):
    """`mmsa features extract --num-shards 2 --shard-index I`: each process fills its shards; the set is
    complete (and equal to a one-process extraction) once every index has run."""
    posts, pre, _, text = setup
    store = str(tmp_path / "shared")
    first = extract_features(text, "text", posts, pre, store, shard_size=8, verbose=False, num_shards=2, shard_index=0)
    assert first is None  # shards 1 and 3 are still missing
    second = extract_features(text, "text", posts, pre, store, shard_size=8, verbose=False, num_shards=2, shard_index=1)
    assert second is not None and second.manifest["complete"] and len(second.ids) == 40
    alone = extract_features(text, "text", posts, pre, str(tmp_path / "alone"), shard_size=8, verbose=False)
    np.testing.assert_allclose(
        second.arrays(alone.ids)["pooled_output"], alone.arrays(alone.ids)["pooled_output"], atol=1e-6
    )
