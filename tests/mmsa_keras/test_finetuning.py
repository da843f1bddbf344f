import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmsa_keras.app.builders import build_model, encoder_arguments, make_preprocessor
from mmsa_keras.app.training import TrainConfig, train
from mmsa_keras.optimizers import GroupedSGD, WarmupDecay, make_optimizer
from tests.conftest import REPO


def test_warmup_then_linear_and_cosine_decay():
    linear = WarmupDecay(1.0, warmup_steps=4, decay_steps=14, kind="linear")
    values = [float(linear(s)) for s in range(16)]
    assert values[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert values[4] == pytest.approx(1.0) and values[9] == pytest.approx(0.5) and values[14] == 0.0
    cosine = WarmupDecay(1.0, warmup_steps=0, decay_steps=10, kind="cosine")
    assert float(cosine(5)) == pytest.approx(0.5, abs=1e-6) and float(cosine(10)) == pytest.approx(0.0, abs=1e-6)


def test_encoder_variables_get_their_own_learning_rate():
    x = keras.Input((3,))
    encoder = keras.layers.Dense(4, name="encoder_dense")
    head = keras.layers.Dense(2, name="head_dense")
    model = keras.Model(x, head(encoder(x)))
    opt = make_optimizer(
        "sgd", 0.1, steps=10, momentum=0.0, encoder_variables=encoder.trainable_variables, encoder_learning_rate=0.01
    )
    assert isinstance(opt, GroupedSGD)
    assert opt.lr_multipliers == {v.path: pytest.approx(0.1) for v in encoder.trainable_variables}
    data = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    target = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(data) - target) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    before = [v.numpy().copy() for v in model.trainable_variables]
    opt.apply_gradients(zip(grads, model.trainable_variables))
    for v, g, b in zip(model.trainable_variables, grads, before):
        lr = 0.01 if v.path.startswith("encoder_dense") else 0.1
        np.testing.assert_allclose(b - v.numpy(), lr * g.numpy(), rtol=1e-5, atol=1e-7)


def _two_layer_problem(seed=0):
    x = keras.Input((3,))
    encoder = keras.layers.Dense(4, name="encoder_dense")
    head = keras.layers.Dense(2, name="head_dense")
    model = keras.Model(x, head(encoder(x)))
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(8, 3)).astype("float32")
    target = rng.normal(size=(8, 2)).astype("float32")
    return model, encoder, data, target


@pytest.mark.parametrize("traced", [False, True])
def test_grouped_adamw_matches_keras_adamw_step_for_step(traced):
    """The fused one-device update (ResourceApplyAdam) is Keras' AdamW: same weights after 5 steps."""
    schedule = WarmupDecay(1e-2, warmup_steps=2, decay_steps=5, kind="linear")
    results = []
    for optimizer in (
        keras.optimizers.AdamW(learning_rate=schedule, weight_decay=0.05),
        make_optimizer("adamw", 1e-2, steps=5, warmup_steps=2, schedule="linear", weight_decay=0.05),
    ):
        keras.utils.set_random_seed(0)
        model, _, data, target = _two_layer_problem()

        def step(model=model, optimizer=optimizer, data=data, target=target):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(data) - target) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

        step = tf.function(step) if traced else step
        for _ in range(5):
            step()
        results.append([v.numpy() for v in model.trainable_variables])
    for keras_adamw, grouped in zip(*results):
        np.testing.assert_allclose(grouped, keras_adamw, rtol=1e-5, atol=1e-6)  # float32 rounding of the fused kernel


def test_weight_decay_follows_each_variables_own_rate():
    """Decoupled decay is lr_group * wd (PyTorch's AdamW with parameter groups): zero gradients isolate it."""
    model, encoder, _, _ = _two_layer_problem()
    opt = make_optimizer(
        "adamw",
        0.1,
        steps=10,
        weight_decay=0.5,
        encoder_variables=encoder.trainable_variables,
        encoder_learning_rate=0.01,
    )
    before = [v.numpy().copy() for v in model.trainable_variables]
    opt.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    for v, b in zip(model.trainable_variables, before):
        lr = 0.01 if v.path.startswith("encoder_dense") else 0.1
        np.testing.assert_allclose(v.numpy(), b * (1 - lr * 0.5), rtol=1e-6, atol=1e-7)


def test_adamw_weight_decay_and_round_trip():
    opt = make_optimizer("adamw", 5e-4, steps=100, warmup_steps=10, schedule="linear", weight_decay=0.01)
    assert opt.weight_decay == pytest.approx(0.01)
    clone = type(opt).from_config(opt.get_config())
    assert clone.lr_multipliers == opt.lr_multipliers


def test_layer_decay_scales_each_transformer_layer():
    from mmsa_keras.optimizers import learning_rate_multipliers

    class V:
        def __init__(self, path):
            self.path = path

    variables = [
        V("enc/embeddings/token_embedding/embeddings"),
        V("enc/transformer_layer_0/q/kernel"),
        V("enc/transformer_layer_1/q/kernel"),
        V("enc/transformer_layer_2/q/kernel"),
        V("enc/pooled_dense/kernel"),
    ]
    m = learning_rate_multipliers(variables, 1e-3, 1e-4, layer_decay=0.5)
    assert [m[v.path] for v in variables] == pytest.approx([0.1 * 0.125, 0.1 * 0.25, 0.1 * 0.5, 0.1, 0.1])


@pytest.mark.usefixtures("minilm_installed")
def test_feature_mode_matches_raw_mode_with_frozen_encoders(synthetic_dir, tmp_path):
    common = dict(
        model="native_cat",
        data_dir=synthetic_dir,
        format="mvsa",
        epochs=3,
        batch_size=16,
        seed=0,
        image_size=32,
        sequence_length=16,
        text_encoder="minilm_l6",
        image_encoder="mobilenet_v2",
        image_weights="none",
        augment=False,
        learning_rate=3e-3,
        patience=10,
        verbose=0,
        feature_store=str(tmp_path / "store"),
        model_overrides={"projection_dropout": 0.0, "head_dropout": 0.0},
        standardize_features=False,  # raw mode has no stored statistics: compare like with like
    )
    feat = train(TrainConfig(out=str(tmp_path / "feature"), feature_mode="auto", **common))
    raw = train(TrainConfig(out=str(tmp_path / "raw"), feature_mode="off", **common))
    assert feat.feature_mode and not raw.feature_mode
    acc_f = feat.all_metrics["validation"]["accuracy"]
    acc_r = raw.all_metrics["validation"]["accuracy"]
    assert abs(acc_f - acc_r) <= 0.05, (acc_f, acc_r)  # same head, same features, same batches
    # the saved raw-mode model reproduces the feature-mode predictions from raw posts
    from mmsa_keras.app.runs import Run

    again = Run(str(tmp_path / "feature")).evaluate("validation", verbose=0)
    assert again["accuracy"] == pytest.approx(acc_f, abs=1e-6)
    # (how much faster feature mode trains is measured in benchmarks/feature_sweep.py, not asserted here)


def test_stored_image_features_are_standardised_in_training_and_in_the_saved_model(synthetic_dir, tmp_path):
    """Default with a stored frozen image encoder: per-channel training-split mean/std, applied to what the
    head reads and kept (as Normalization layers) in the saved raw-input model, whose predictions match."""
    from data_pipelines.features import FeatureSet
    from mmsa_keras.app.runs import Run
    from mmsa_keras.custom_objects import load_trained_network

    out = tmp_path / "run"
    summary = train(
        TrainConfig(
            model="bert_resnet_image_only",
            data_dir=synthetic_dir,
            out=str(out),
            epochs=2,
            batch_size=16,
            image_size=32,
            image_encoder="mobilenet_v2",
            image_weights="none",
            feature_store=str(tmp_path / "store"),
            verbose=0,
        )
    )
    assert summary.feature_mode and summary.plan.standardized_modalities == ["image"]
    (store,) = [tmp_path / "store" / d for d in os.listdir(tmp_path / "store") if not d.startswith(".")]
    train_ids = json.load(open(out / "splits.json"))["train"]
    pooled = FeatureSet(str(store)).arrays(train_ids, ["pooled_output"])["pooled_output"].astype(np.float64)
    model = load_trained_network(str(out / "model.keras"))  # the network inside the run's calibration wrapper
    layer = model.get_layer("mobilenet_v2_standardized").get_layer("pooled_output_standardization")
    mean, variance = (np.asarray(v).reshape(-1) for v in (layer.mean, layer.variance))
    np.testing.assert_allclose(mean, pooled.mean(0), rtol=1e-4, atol=1e-5)
    std = pooled.std(0)
    np.testing.assert_allclose(np.sqrt(variance), np.where(std < 1e-6, 1.0, std), rtol=1e-3, atol=1e-5)
    again = Run(str(out)).evaluate("validation", verbose=0)
    assert again["accuracy"] == pytest.approx(summary.all_metrics["validation"]["accuracy"], abs=1e-6)


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(synthetic_dir, tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.path.insert(0, {REPO!r})
        from mmsa_keras.app.training import TrainConfig, train
        out = {{}}
        for strategy in ("none", "mirrored"):
            s = train(TrainConfig(model="joint_fusion_text_only", data_dir={synthetic_dir!r}, format="mvsa",
                                  out={str(tmp_path)!r} + "/" + strategy, epochs=3, batch_size=32, seed=0,
                                  strategy=strategy, augment=False, verbose=0, optimizer="sgd",
                                  learning_rate=0.05, momentum=0.0, patience=10,
                                  text_encoder_config={{"dropout": 0.0}}))
            out[strategy] = {{"loss": s.history["loss"], "acc": s.all_metrics["validation"]["accuracy"]}}
        print("RESULT" + json.dumps(out))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(line[len("RESULT") :])
    # measured: epoch losses 1.0951/1.0767/1.0660 (one device) vs 1.0926/1.0767/1.0656 (two replicas);
    # the same weights at lr 0, so the difference is the order of the cross-replica sums (and epoch
    # 1's running-mean readout)
    np.testing.assert_allclose(result["mirrored"]["loss"][1:], result["none"]["loss"][1:], rtol=2e-3)
    np.testing.assert_allclose(result["mirrored"]["loss"][0], result["none"]["loss"][0], rtol=1e-2)
    assert result["mirrored"]["acc"] == pytest.approx(result["none"]["acc"], abs=0.05)


@pytest.mark.slow
def test_two_workers_on_localhost_match_one_worker(synthetic_dir, tmp_path):
    """`--strategy multi_worker`: two processes on 127.0.0.1 (TF_CONFIG) train one run; the chief's weights
    equal a one-worker run with the same global batch within tolerance, and only the chief writes the run."""
    import socket

    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    args = [
        "train",
        "--model",
        "joint_fusion_text_only",
        "--data-dir",
        synthetic_dir,
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "0.05",
        "--momentum",
        "0",
        "--patience",
        "10",
        "--sequence-length",
        "16",
        "--out",
    ]
    settings = ["--set", "hidden_dim=16"]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            CUDA_VISIBLE_DEVICES="",
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mmsa_keras.app.cli",
                    *args,
                    str(tmp_path / "multi"),
                    "--strategy",
                    "multi_worker",
                    *settings,
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    single = subprocess.run(
        [sys.executable, "-m", "mmsa_keras.app.cli", *args, str(tmp_path / "single"), "--strategy", "none", *settings],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
    )
    assert single.returncode == 0, single.stderr[-3000:]
    from mmsa_keras.custom_objects import load_model

    a = load_model(str(tmp_path / "multi" / "model.keras")).get_weights()
    b = load_model(str(tmp_path / "single" / "model.keras")).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=5e-3)
    assert not [n for n in os.listdir(tmp_path / "multi") if n.startswith(".worker")]  # the worker cleaned up


@pytest.mark.parametrize("unfreeze", [0, "all"])
def test_the_paper_000_image_cnn_keeps_the_plans_freezing(synthetic_dir, unfreeze):
    """`--unfreeze all` (`reproduce instagram_wann/... --finetune`) leaves the ResNet-50 trainable in the
    model (it used to be frozen again by the model), and one step changes its weights; the default stays
    frozen, as the paper starts."""
    from mmsa_keras.app.plan import make_plan

    config = TrainConfig(
        model="instagram_image_cnn",
        data_dir=synthetic_dir,
        out="unused",
        image_encoder="resnet50",
        image_weights="none",
        image_size=32,
        unfreeze=unfreeze,
        **({"encoder_learning_rate": 1e-3} if unfreeze else {}),
    )
    plan = make_plan(config, check_paths=False)
    model = build_model(plan, 3, make_preprocessor(plan.preprocessing))
    encoder = model.get_layer(encoder_arguments(plan.encoders["image"]).get("name", "resnet50"))
    assert (len(encoder.trainable_weights) > 0) == (unfreeze == "all")
    assert ("fine-tuned" in plan.encoders["image"].describe()) == (unfreeze == "all")
    if unfreeze == "all":
        before = [w.numpy().copy() for w in encoder.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        inputs = {"images": np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")}
        inputs["image_present"] = np.ones(4, "float32")
        model.train_on_batch({k: inputs[k] for k in model.input}, np.array([0, 1, 2, 0]))
        assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, encoder.trainable_weights))
