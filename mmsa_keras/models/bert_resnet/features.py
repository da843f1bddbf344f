"""The shared feature block of paper 002's models (docs/ARCHITECTURE.md §3, bert_resnet).

Text: the encoder's token states and pooled vector, each through Dropout +
Dense(h, relu). Image: the pooled vector through Dropout + Dense(h, relu); the
spatial map (7x7x2048 for ResNet-50) through a 1x1 conv to 64 channels, its
positions flattened, then Dropout + Dense(h, relu) per channel, giving a
`[B, 64, h]` sequence of channel tokens. Every vector of an absent modality is
zeroed through its presence flag.
"""

from __future__ import annotations

import keras

from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.layers.probability_fusion import ProbabilityFusion
from mmsa_keras.models.base import PROBABILITIES, image_branch, masked_by_presence, projection, text_branch


def bert_resnet_features(
    inputs: dict,
    text_encoder=None,
    image_encoder=None,
    text_feature_shape=None,
    image_feature_shape=None,
    hidden_dim=64,
    dropout=0.1,
    image_channels=64,
    sequences=False,
) -> dict:
    """Build paper 002's projected features; add the model inputs to `inputs`.

    Returns `text_pooled`, `image_pooled` `[B, h]`, `text_present`,
    `image_present`, and with `sequences=True` also `text_sequence` `[B, L, h]`,
    `text_mask` `[B, L]` and `image_sequence` `[B, image_channels, h]`.
    """
    text = text_branch(inputs, text_encoder, text_feature_shape)
    image = image_branch(inputs, image_encoder, image_feature_shape)
    out = {"text_present": text["present"], "image_present": image["present"]}
    t = projection(text["pooled"], hidden_dim, dropout, "text_pooled_projection")
    out["text_pooled"] = masked_by_presence(t, text["present"], "text_pooled_presence")
    i = projection(image["pooled"], hidden_dim, dropout, "image_pooled_projection")
    out["image_pooled"] = masked_by_presence(i, image["present"], "image_pooled_presence")
    if not sequences:
        return out
    if "sequence" not in text:
        raise ValueError("this model needs text token states: a text encoder, or text_feature_shape=(L, D)")
    if "sequence" not in image:
        raise ValueError(
            "this model needs the image's spatial map: an image encoder returning "
            "feature_map, or image_feature_shape=(positions, channels)"
        )
    ts = projection(text["sequence"], hidden_dim, dropout, "text_states_projection")
    out["text_sequence"] = masked_by_presence(ts, text["present"], "text_states_presence")
    out["text_mask"] = text["mask"]
    # 1x1 conv over the map == a Dense over channels at every position
    x = keras.layers.Dense(image_channels, name="image_map_conv1x1")(image["sequence"])  # [B, S, 64]
    x = keras.layers.Permute((2, 1), name="image_channels_first")(x)  # [B, 64, S]
    x = projection(x, hidden_dim, dropout, "image_channel_projection")  # [B, 64, h]
    out["image_sequence"] = masked_by_presence(x, image["present"], "image_sequence_presence")
    return out


def two_head_fusion(text_in, image_in, features: dict, num_classes, head_hidden_dim, head_dropout, mode: str) -> dict:
    """One classifier head per modality, fused by `ProbabilityFusion(mode)` over the present ones.

    Returns the dict output of NativeCombine, CMAC and HSTEC: `probabilities`,
    `text_probabilities`, `image_probabilities`.
    """
    # the heads give logits; the fusion takes them (stable log-softmax, no gradient lost to a saturated head)
    z_text = ClassifierHead(num_classes, head_hidden_dim, head_dropout, activation=None, name="text_head")(text_in)
    z_image = ClassifierHead(num_classes, head_hidden_dim, head_dropout, activation=None, name="image_head")(image_in)
    p_text = keras.layers.Softmax(name="text_head_softmax", dtype="float32")(z_text)
    p_image = keras.layers.Softmax(name="image_head_softmax", dtype="float32")(z_image)
    fused = ProbabilityFusion(mode, from_logits=True, name="fusion")(
        [z_text, z_image], presence=[features["text_present"], features["image_present"]]
    )
    return {PROBABILITIES: fused, "text_probabilities": p_text, "image_probabilities": p_image}
