"""`mmsa_keras.app.explain` over every registered model family, on tiny raw-input models."""

import io

import keras
import numpy as np
import pytest
from PIL import Image

from data_pipelines.pipeline import Preprocessor
from data_pipelines.tokenization import VocabularyTokenizer
from mmsa_keras.app.explain import Explainer, deletion_check, token_embedding
from mmsa_keras.registry import create_model, list_models
from tests.mmsa_keras import (
    test_bert_resnet_models,
    test_instagram_and_mvsa_models,
    test_joint_fusion_models,
    test_mvso_gated_models,
)

TEXTS = ["so happy today sun", "so sad rain grey day", "neutral post about cats and dogs"]


def _raw_overrides() -> dict:
    """Each registered model's tiny raw-input settings, as its own model tests build it."""
    out = {n: test_bert_resnet_models._overrides(n, "raw") for n in test_bert_resnet_models.NAMES}
    small = test_instagram_and_mvsa_models.SMALL
    out |= {n: {**test_instagram_and_mvsa_models.RAW, **small[n]} for n in small}
    out["instagram_wann"] = dict(test_instagram_and_mvsa_models.RAW)
    gated = test_mvso_gated_models
    out |= {n: {**gated.RAW, "num_classes": 2, **gated.SMALL[n]} for n in gated.SMALL}
    for n in test_joint_fusion_models.NAMES:
        out[n] = dict(test_joint_fusion_models.TINY, hidden_dim=None if n == "joint_fusion_image_only" else 6)
    return out


OVERRIDES = _raw_overrides()
#: `wann` is the Sequential head over two models' probabilities; posts reach it through `instagram_wann`
HEADS_ONLY = {"wann"}


def test_every_registered_model_is_explained_here():
    assert {s.name for s in list_models()} == set(OVERRIDES) | HEADS_ONLY


def _image_bytes(seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).uniform(0, 255, (20, 24, 3)).astype("uint8")).save(buf, "PNG")
    return buf.getvalue()


def _explainer(name, method="auto", steps=16):
    keras.utils.set_random_seed(0)
    model = create_model(name, **OVERRIDES[name])
    length = model.input["token_ids"].shape[1] if "token_ids" in model.input else 8
    size = model.input["images"].shape[1] if "images" in model.input else 16
    tokenizer = VocabularyTokenizer(length, max_tokens=30)
    tokenizer.adapt(TEXTS)
    preprocessor = Preprocessor(image_size=size, tokenizer=tokenizer, normalisation="unit")
    classes = [f"c{i}" for i in range(int(model.output_shape[-1] if not isinstance(model.output, dict) else 3))]
    probs = np.asarray(Explainer(model, preprocessor, classes).probabilities(TEXTS[0], _image_bytes()))
    return Explainer(model, preprocessor, [f"c{i}" for i in range(len(probs))], method=method, steps=steps, grid=4)


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_explain_every_family(name):
    """Tokens where the model reads the caption (integrated gradients through its token embedding), a grid heat map
    where it reads the image, the three modality views where it reads both; probabilities that sum to one."""
    ex = _explainer(name)
    out = ex.explain(TEXTS[0], _image_bytes())
    similarity = name in ("mvso_embedding_classifier", "mvso_gated_embedding")  # cosine to each label's vector
    assert out["scores_are_probabilities"] != similarity
    if not similarity:
        assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    tokens = out["tokens"]
    if ex.reads_text:
        assert ex.method == "integrated_gradients" and token_embedding(ex.model) is not None
        assert tokens["tokens"] == TEXTS[0].split() and len(tokens["scores"]) == 4
        assert np.all(np.isfinite(tokens["scores"]))
    else:
        assert ex.method is None and tokens["tokens"] == []
    if ex.reads_image:
        heat = np.asarray(out["image_heatmap"])
        assert heat.shape == (4, 4) and np.all(np.isfinite(heat))
    else:
        assert out["image_heatmap"] is None
    both = ex.reads_text and ex.reads_image
    assert (out["modalities"]["text_only"] is not None) == both == (out["modalities"]["image_only"] is not None)


def test_integrated_gradients_are_complete_and_occlusion_is_exact():
    """IG's attributions sum to p(x) - p(zero embedding) up to the Riemann error; a word's occlusion score is
    the probability lost when that word alone is removed."""
    ex = _explainer("native_cat", steps=64)
    image = _image_bytes()
    target = int(np.argmax(ex.probabilities(TEXTS[1], image)))
    ig = ex.token_attributions(TEXTS[1], image, target)
    inputs = ex.inputs([TEXTS[1]], [image])
    full, _ = ex.embedding_scaled_scores(inputs, np.ones((1, 1, 1), "float32"), target)
    base, _ = ex.embedding_scaled_scores(inputs, np.zeros((1, 1, 1), "float32"), target)
    total = float(full[0] - base[0])
    assert abs(sum(ig["scores"]) - total) == pytest.approx(abs(ig["completeness_gap"]), abs=1e-6)
    assert abs(total) > 0.005 and abs(ig["completeness_gap"]) <= 0.1 * abs(total) + 2e-4
    assert float(full[0]) == pytest.approx(ex.probabilities(TEXTS[1], image)[target], abs=1e-5)  # the hook is off
    occ = Explainer(ex.model, ex.preprocessor, ex.class_names, method="occlusion")
    words = TEXTS[1].split()
    scores = occ.token_attributions(TEXTS[1], image, target)["scores"]
    without = ex.probabilities(" ".join(words[:2] + words[3:]), image)[target]
    assert scores[2] == pytest.approx(ex.probabilities(TEXTS[1], image)[target] - without, abs=1e-5)


def test_a_model_that_reads_the_raw_caption_gets_occlusion_and_refuses_integrated_gradients():
    """The TF-IDF blend reads the caption itself: gradients through the embedding would miss that half."""
    from mmsa_keras.models.tfidf_ensemble import fit_tfidf_classifier, with_tfidf

    ex = _explainer("bert_resnet_text_only")
    texts, labels = TEXTS * 4, [0, 1, 2] * 4
    blended = with_tfidf(ex.model, fit_tfidf_classifier(texts, labels, 3, min_df=1)[0], 0.5)
    auto = Explainer(blended, ex.preprocessor, ex.class_names)
    assert auto.method == "occlusion" and auto.explain(TEXTS[0], b"")["tokens"]["method"] == "occlusion"
    with pytest.raises(ValueError, match="raw caption"):
        Explainer(blended, ex.preprocessor, ex.class_names, method="integrated_gradients")


def test_the_deletion_check_reports_paired_drops():
    ex = _explainer("native_cat")
    image = _image_bytes()
    check = deletion_check(ex, [(t, image) for t in TEXTS] + [("hi", image)], k=1, random_draws=3)
    assert check["posts"] == 3 and check["skipped_short"] == 1 and check["method"] == "integrated_gradients"
    for key in ("top_k_drop", "random_k_drop", "difference"):
        lo, hi = check[key]["interval"]
        assert lo <= check[key]["mean"] <= hi and check[key]["n"] == 3
    assert check["difference"]["mean"] == pytest.approx(check["top_k_drop"]["mean"] - check["random_k_drop"]["mean"])
