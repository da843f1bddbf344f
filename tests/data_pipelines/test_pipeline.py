import numpy as np
import pytest
import tensorflow as tf

from data_pipelines.augmentation import augment_batch, balance_posts
from data_pipelines.datasets import load_dataset
from data_pipelines.images import decode_image_bytes
from data_pipelines.pipeline import Preprocessor
from data_pipelines.post import Post
from data_pipelines.report import DataReport
from data_pipelines.tokenization import VocabularyTokenizer
from tests.data_pipelines.bad_input import image_bytes, jpeg_bytes


@pytest.mark.parametrize(
    "fmt,mode", [("PNG", "RGBA"), ("PNG", "L"), ("GIF", "RGB"), ("BMP", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK")]
)
def test_decode_any_format_to_rgb(fmt, mode):
    raw = image_bytes(fmt, size=20, mode=mode) if fmt != "JPEG" else jpeg_bytes(20, mode=mode)
    image, present = decode_image_bytes(tf.constant(raw), 12)
    assert image.shape == (12, 12, 3) and float(present) == 1.0
    assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 255.0
    if mode == "L":  # grayscale replicated on three channels
        np.testing.assert_allclose(image[..., 0], image[..., 1])


def test_empty_bytes_mean_no_image():
    image, present = decode_image_bytes(tf.constant(b""), 8)
    assert float(present) == 0.0 and float(tf.reduce_sum(tf.abs(image))) == 0.0


def test_augmentation_changes_pixels_but_keeps_shape_and_range():
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"))
    out = augment_batch(images, tf.constant([1, 2]))
    assert out.shape == images.shape
    assert float(tf.reduce_mean(tf.abs(out - images))) > 1.0
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 255.0
    # stateless: the same seed gives the same images, another seed other images; each image its own warp
    np.testing.assert_array_equal(out.numpy(), augment_batch(images, tf.constant([1, 2])).numpy())
    assert not np.array_equal(out.numpy(), augment_batch(images, tf.constant([1, 3])).numpy())
    same = tf.constant(np.repeat(images.numpy()[:1], 4, axis=0))
    warped = augment_batch(same, tf.constant([5, 6])).numpy()
    assert not np.array_equal(warped[0], warped[1])


def _posts(synthetic_dir):
    return load_dataset(synthetic_dir, "mvsa", report=DataReport(max_messages=0))["all"][:64]


def test_pipeline_is_deterministic_under_a_seed(synthetic_dir):
    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)

    def first_batches(seed):
        ds = pre.make_dataset(posts, batch_size=16, training=True, seed=seed)
        return [(x["images"].numpy(), x["token_ids"].numpy(), y.numpy()) for x, y in ds.take(3)]

    a, b, c = first_batches(7), first_batches(7), first_batches(8)
    for (ia, ta, ya), (ib, tb, yb) in zip(a, b):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c))


def test_pipeline_outputs_the_data_contract(synthetic_dir):
    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)
    x, y = next(iter(pre.make_dataset(posts, batch_size=64)))
    assert set(x) == {"images", "image_present", "token_ids", "padding_mask", "text_present"}
    assert x["images"].shape == (64, 32, 32, 3) and x["images"].dtype == tf.float32
    assert x["token_ids"].dtype == tf.int32 and x["padding_mask"].shape == (64, 12)
    for post, img_p, txt_p, mask, img in zip(
        posts, x["image_present"].numpy(), x["text_present"].numpy(), x["padding_mask"].numpy(), x["images"].numpy()
    ):
        assert img_p == float(post.has_image) and txt_p == float(post.has_text)
        if not post.has_text:
            assert mask.sum() == 0
        if not post.has_image:
            assert np.all(img == 0)
    # training-split statistics normalise present images to roughly zero mean, unit std
    present = x["images"].numpy()[x["image_present"].numpy() == 1]
    assert abs(present.mean()) < 0.2 and 0.7 < present.std() < 1.3
    np.testing.assert_array_equal(y.numpy(), [p.label for p in posts])


def test_preprocessor_save_load_gives_the_same_inputs(synthetic_dir, tmp_path):
    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)
    pre.save(str(tmp_path))
    again = Preprocessor.load(str(tmp_path))
    a, _ = next(iter(pre.make_dataset(posts, batch_size=8)))
    b, _ = next(iter(again.make_dataset(posts, batch_size=8)))
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), atol=1e-6)


def test_serve_matches_the_dataset_path(synthetic_dir):
    posts = [p for p in _posts(synthetic_dir)][:8]
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)
    x, _ = next(iter(pre.make_dataset(posts, batch_size=8)))
    raw = [open(p.image_path, "rb").read() if p.image_path else b"" for p in posts]
    served = pre.serve(tf.constant([p.text or "" for p in posts]), tf.constant(raw))
    for key in x:
        np.testing.assert_allclose(served[key].numpy(), x[key].numpy(), atol=1e-5)


def test_balance_posts_to_n_per_class():
    posts = [Post(str(i), "t", None, label) for i, label in enumerate([0] * 5 + [1] * 20 + [2] * 2)]
    balanced = balance_posts(posts, 10, seed=0)
    counts = np.bincount([p.label for p in balanced])
    assert counts.tolist() == [10, 10, 10]
    assert len({p.id for p in balanced if p.label == 1}) == 10  # subsampled without repeats
    assert balance_posts(posts, 10, seed=0) == balanced


def test_balancing_resamples_the_stream(synthetic_dir):
    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32).fit(posts, verbose=False)
    ds, steps = pre.stream(posts, batch_size=10, balance_to=10, augment=True)
    labels = np.concatenate([y.numpy() for _, y in ds])
    assert steps == 3 and np.bincount(labels).tolist() == [10, 10, 10]


def test_stream_epochs_do_not_depend_on_where_the_stream_started(synthetic_dir):
    """The property exact resume rests on: epoch e's batches come from (seed, e) alone."""
    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)
    full, steps = pre.stream(posts, 16, seed=3, epochs=3, augment=True)
    resumed, _ = pre.stream(posts, 16, seed=3, epochs=3, initial_epoch=2, augment=True)
    full_batches = list(full)
    assert len(full_batches) == 3 * steps
    for (xa, ya), (xb, yb) in zip(full_batches[2 * steps :], resumed):
        np.testing.assert_array_equal(xa["images"].numpy(), xb["images"].numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    first, second = full_batches[0][1].numpy(), full_batches[steps][1].numpy()
    assert not np.array_equal(first, second)  # a new order every epoch


def test_image_cache_gives_the_decoded_pixels(synthetic_dir, tmp_path):
    from data_pipelines.image_cache import ImageCache

    posts = _posts(synthetic_dir)
    pre = Preprocessor(image_size=32, sequence_length=12).fit(posts, verbose=False)
    cache = ImageCache.build(posts, 32, str(tmp_path), verbose=False)
    again = ImageCache.build(posts, 32, str(tmp_path), verbose=False)  # found, not rebuilt
    assert again.path == cache.path and len(list(tmp_path.glob("*.npy"))) == 1
    a, _ = next(iter(pre.make_dataset(posts, batch_size=64)))
    b, _ = next(iter(pre.make_dataset(posts, batch_size=64, image_cache=cache)))
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_vocabulary_tokenizer_masks_padding_and_empty_text():
    tok = VocabularyTokenizer(sequence_length=6)
    tok.adapt(["so happy today", "so sad", "happy happy"])
    out = tok(tf.constant(["happy today unknownword", ""]))
    ids, mask = out["token_ids"].numpy(), out["padding_mask"].numpy()
    assert ids.shape == (2, 6) and mask[0].tolist() == [1, 1, 1, 0, 0, 0] and mask[1].sum() == 0
    assert ids[0, 2] == 1  # out-of-vocabulary id
