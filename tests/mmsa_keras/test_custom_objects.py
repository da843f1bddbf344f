import hashlib
import zipfile

import keras
import numpy as np

from mmsa_keras.custom_objects import fast_keras_saving, load_model


def _contents(path):
    with zipfile.ZipFile(path) as z:  # metadata.json holds the save date
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if n != "metadata.json"}


def test_fast_keras_saving_saves_and_loads_the_same_model(tmp_path, monkeypatch):
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    from mmsa_keras.registry import create_model

    keras.utils.set_random_seed(0)
    model = create_model("cmac", text_feature_shape=(None, 6), image_feature_shape=(4, 5), hidden_dim=8, num_heads=2)
    keras.backend.clear_session(free_memory=False)  # Keras' per-thread state starts empty
    model.save(tmp_path / "plain.keras")
    fast_keras_saving()
    assert global_state.get_global_attribute("saving_attr_skiplist_Layer") == saving_lib.get_attr_skipset("Layer")
    misses = []  # Keras stores a set it had to build under this (other) name
    real_set = global_state.set_global_attribute
    monkeypatch.setattr(
        global_state,
        "set_global_attribute",
        lambda name, value: (
            (misses.append(name) if name.startswith("saving_attr_skipset_") else None) or real_set(name, value)
        ),
    )
    model.save(tmp_path / "fast.keras")
    assert not misses  # every lookup found its set: none rebuilt per layer
    monkeypatch.undo()
    assert _contents(tmp_path / "plain.keras") == _contents(tmp_path / "fast.keras")
    loaded = load_model(str(tmp_path / "fast.keras"))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
