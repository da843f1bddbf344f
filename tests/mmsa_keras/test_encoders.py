import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmsa_keras import encoders
from mmsa_keras.encoders import build_image_encoder, build_text_encoder, tokenizer_for

needs_minilm = pytest.mark.usefixtures("minilm_installed")


@pytest.mark.parametrize(
    "name,size,pooled,fmap",
    [
        ("resnet50", 224, 2048, (7, 7, 2048)),
        ("mobilenet_v2", 224, 1280, (7, 7, 1280)),
        ("inception_v3", 299, 2048, (8, 8, 2048)),
        ("alexnet", 227, 4096, (6, 6, 256)),
    ],
)
def test_named_image_encoders_build_without_weights_and_report_shapes(name, size, pooled, fmap):
    enc = build_image_encoder(name, weights=None)
    assert enc.input.shape[1:] == (size, size, 3)
    assert enc.output["pooled_output"].shape[1:] == (pooled,)
    assert enc.output["feature_map"].shape[1:] == fmap
    out = enc(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32"))
    assert np.all(np.isfinite(np.asarray(out["pooled_output"])))


def test_image_encoder_weights_from_a_local_file(tmp_path):
    first = build_image_encoder("mobilenet_v2", weights=None, image_size=64)
    backbone = next(layer for layer in first.layers if isinstance(layer, keras.Model))
    path = str(tmp_path / "mobilenet.weights.h5")
    backbone.save_weights(path)
    second = build_image_encoder("mobilenet_v2", weights=path, image_size=64)
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(first(x)["pooled_output"]), np.asarray(second(x)["pooled_output"]), atol=1e-5)
    with pytest.raises(FileNotFoundError):
        build_image_encoder("mobilenet_v2", weights=str(tmp_path / "missing.h5"), image_size=64)


def test_imagenet_download_path_uses_keras_get_file(tmp_path, monkeypatch):
    """weights="imagenet" goes through Keras's download (get_file), served here from a local file."""
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(64, 64, 3))
    local = str(tmp_path / "mobilenet_v2_no_top.weights.h5")
    reference.save_weights(local)
    asked = []

    def fake_get_file(fname=None, origin=None, *args, **kwargs):
        asked.append((fname, origin))
        return local

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    enc = build_image_encoder("mobilenet_v2", weights="imagenet", image_size=64)
    assert asked and "no_top" in asked[0][0] and asked[0][1].startswith("https://")
    backbone = next(layer for layer in enc.layers if isinstance(layer, keras.Model))
    for a, b in zip(backbone.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unfreeze_top_blocks():
    enc = build_image_encoder("resnet50", weights=None, image_size=64, unfreeze=2)
    backbone = next(layer for layer in enc.layers if isinstance(layer, keras.Model))
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable and all(n.startswith(("conv5_block2", "conv5_block3")) for n in trainable)
    frozen = build_image_encoder("resnet50", weights=None, image_size=64)
    assert not frozen.trainable_weights


def test_small_and_bilstm_text_encoders_report_shapes():
    for name, cfg, width in (
        ("small_transformer", {}, 64),
        ("bag_of_embeddings", {"pooling": "max"}, 64),
        ("bilstm", {"units": 5, "embedding_dim": 4}, 10),
    ):
        enc = build_text_encoder(name, vocabulary_size=20, sequence_length=6, **cfg)
        assert enc.output["pooled_output"].shape[1:] == (width,)
        assert enc.output["sequence_output"].shape[1] == 6


@needs_minilm
def test_unfreeze_k_means_the_top_k_transformer_layers_of_a_keras_hub_backbone():
    """`--unfreeze 2` on a keras-hub backbone unfreezes its last 2 transformer layers (and the pooler
    when the model uses it: MiniLM's output is the mean of the states, so its pooler stays frozen and
    fine-tuning does not warn about variables without gradient), not the whole backbone."""
    enc = build_text_encoder("minilm_l6", unfreeze=2)
    backbone = next(layer for layer in enc.layers if isinstance(layer, keras.Model))
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"transformer_layer_4", "transformer_layer_5"}
    assert not any("embedding" in v.path for v in enc.trainable_variables)
    everything = build_text_encoder("minilm_l6", unfreeze="all")
    assert len(everything.trainable_variables) > len(enc.trainable_variables)
    assert not any("pooled_dense" in v.path for v in everything.trainable_variables)
    assert not build_text_encoder("minilm_l6").trainable_variables
    with pytest.raises(ValueError, match="6 transformer layers"):
        build_text_encoder("minilm_l6", unfreeze=7)


@needs_minilm
def test_minilm_loading_is_exact():
    enc = build_text_encoder("minilm_l6")
    tok = tokenizer_for("minilm_l6", sequence_length=32)
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "Stock markets fell sharply on Monday.",
    ]
    x = tok(tf.constant(sentences))
    emb = np.array(enc({k: x[k] for k in enc.input})["pooled_output"])
    assert emb.shape == (4, 384)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cos = emb @ emb.T
    assert cos[0, 1] == pytest.approx(0.755, abs=0.005)  # the published sentence-transformers value
    assert cos[0, 2] < 0.3 and cos[0, 3] < 0.3 and cos[2, 3] < 0.3


@needs_minilm
def test_kaggle_preset_download_path_on_local_files(tmp_path, monkeypatch):
    """A preset name goes through keras-hub's Kaggle download, served here from a local preset."""
    import keras_hub
    from keras_hub.src.utils import preset_utils

    local = tmp_path / "preset"
    keras_hub.models.BertBackbone.from_preset(encoders.minilm_l6_directory()).save_to_preset(str(local))
    keras_hub.tokenizers.Tokenizer.from_preset(encoders.minilm_l6_directory()).save_to_preset(str(local))
    handles = []

    def fake_model_download(handle, path=None, **kwargs):
        handles.append(handle)
        target = local / path
        if not target.exists():
            raise ValueError(f"'{path}' is not present in the model files")
        return str(target)

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", fake_model_download)
    enc = build_text_encoder("bert_tiny_en_uncased")
    assert handles and all(h.startswith("keras/bert/keras/bert_tiny_en_uncased") for h in handles)
    assert enc.output["sequence_output"].shape[-1] == 384  # the local preset's width
    shutil.rmtree(local)


def _grouped_reference(x, data):
    """AlexNet as Caffe computes it: grouped convolutions (tf.split), LRN after conv1/conv2, from the .npy arrays."""
    import tensorflow as tf

    from mmsa_keras.encoders.alexnet_weights import GROUPS

    def conv(x, name, stride, padding):
        w, b = data[name]
        groups = GROUPS[name]
        xs = tf.split(x, groups, axis=-1)
        ws = tf.split(w, groups, axis=-1)
        out = tf.concat([tf.nn.conv2d(a, k, stride, padding) for a, k in zip(xs, ws)], axis=-1)
        return tf.nn.relu(out + b)

    def pool(x):
        return tf.nn.max_pool2d(x, 3, 2, "VALID")

    def lrn(x):  # Caffe: local_size 5, alpha 1e-4 (divided by local_size), beta 0.75, k 1
        return tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75)

    x = pool(lrn(conv(x, "conv1", 4, "VALID")))
    x = pool(lrn(conv(x, "conv2", 1, "SAME")))
    x = conv(x, "conv3", 1, "SAME")
    x = conv(x, "conv4", 1, "SAME")
    x = pool(conv(x, "conv5", 1, "SAME"))
    x = tf.reshape(x, (x.shape[0], -1))
    x = tf.nn.relu(x @ data["fc6"][0] + data["fc6"][1])
    return tf.nn.relu(x @ data["fc7"][0] + data["fc7"][1])


def test_caffe_alexnet_weights_convert_to_the_same_fc7(tmp_path):
    """Grouped Caffe kernels become block-diagonal ones: the converted AlexNet computes Caffe's fc7 exactly."""
    from mmsa_keras.encoders.alexnet_weights import convert_caffe_alexnet
    from mmsa_keras.layers.image_preprocessing import ApplicationPreprocessing

    rng = np.random.default_rng(0)
    shapes = {
        "conv1": (11, 11, 3, 96),
        "conv2": (5, 5, 48, 256),
        "conv3": (3, 3, 256, 384),
        "conv4": (3, 3, 192, 384),
        "conv5": (3, 3, 192, 256),
        "fc6": (9216, 4096),
        "fc7": (4096, 4096),
    }
    data = {
        k: [rng.normal(0, 0.01, s).astype("float32"), rng.normal(0, 0.01, s[-1]).astype("float32")]
        for k, s in shapes.items()
    }
    data["conv1"][0] *= 20  # conv1 outputs in the hundreds, as Caffe's are: LRN then divides them several-fold
    src = tmp_path / "bvlc_alexnet.npy"
    np.save(src, np.array(data, dtype=object), allow_pickle=True)
    out = convert_caffe_alexnet(str(src), str(tmp_path / "alexnet.weights.h5"))
    enc = build_image_encoder("alexnet", weights=out)
    images = rng.uniform(0, 255, (2, 227, 227, 3)).astype("float32")
    got = np.asarray(enc(images, training=False)["pooled_output"])
    caffe_input = np.asarray(ApplicationPreprocessing("caffe")(images))
    expected = np.asarray(_grouped_reference(caffe_input, data))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        build_image_encoder("alexnet", weights="imagenet")


def test_local_response_normalization_is_caffes():
    """Caffe's LRN formula channel by channel in NumPy; TensorFlow's op with Caffe's parameters; config round trip."""

    from mmsa_keras.layers import LocalResponseNormalization

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 300, (2, 3, 3, 7)).astype("float32")
    size, alpha, beta, k = 5, 1e-4, 0.75, 1.0
    expected = np.empty_like(x)
    for c in range(7):
        window = x[..., max(0, c - 2) : c + 3]
        expected[..., c] = x[..., c] / (k + alpha / size * (window**2).sum(-1)) ** beta
    layer = LocalResponseNormalization()
    got = np.asarray(layer(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.abs(got - x).max() > 10  # not the identity at these magnitudes
    tf_op = tf.nn.local_response_normalization(x, depth_radius=2, bias=k, alpha=alpha / size, beta=beta)
    np.testing.assert_allclose(got, np.asarray(tf_op), rtol=1e-5)
    half = LocalResponseNormalization(dtype="mixed_float16")
    np.testing.assert_allclose(np.asarray(half(x), "float32"), expected, rtol=2e-3)  # no float16 overflow of x²
    restored = LocalResponseNormalization.from_config(LocalResponseNormalization(size=3, beta=0.5).get_config())
    assert (restored.size, restored.alpha, restored.beta, restored.k) == (3, 1e-4, 0.5, 1.0)
    with pytest.raises(ValueError, match="odd"):
        LocalResponseNormalization(size=4)


def test_alexnet_normalises_as_caffe_after_conv1_and_conv2():
    """The LRN layers sit after conv1/conv2's ReLU and before their pooling; the AlexNet has no batch normalisation."""
    enc = build_image_encoder("alexnet")
    names = [layer.name for layer in enc.layers]
    assert names.index("conv1") < names.index("conv1_norm") < names.index("conv1_pool")
    assert names.index("conv2") < names.index("conv2_norm") < names.index("conv2_pool")
    assert type(enc.get_layer("conv1_norm")).__name__ == "LocalResponseNormalization"
    assert not any("BatchNormalization" in type(layer).__name__ for layer in enc.layers)
