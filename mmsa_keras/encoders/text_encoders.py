"""Text encoders. Contract (the keras-hub backbone contract): a Keras model
taking `{"token_ids", "padding_mask"[, "segment_ids"]}` `[B, L]` and returning
`{"sequence_output": [B, L, D], "pooled_output": [B, D]}`.

A keras-hub `BertBackbone` satisfies it as it is; the small encoders here are
for the embedded default and for tests.
"""

from __future__ import annotations

import keras
import keras_hub

from mmsa_keras.layers.masked_pooling import MaskedPooling


def _text_inputs(sequence_length):
    return {
        "token_ids": keras.Input((sequence_length,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((sequence_length,), dtype="int32", name="padding_mask"),
    }


def small_transformer(vocabulary_size: int, sequence_length: int = 32, hidden_dim: int = 64,
                      num_layers: int = 1, num_heads: int = 2, intermediate_dim: int = 128,
                      dropout: float = 0.1, name: str = "small_transformer") -> keras.Model:
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


def bag_of_embeddings(vocabulary_size: int, sequence_length: int = 32, hidden_dim: int = 64,
                      pooling: str = "mean", dropout: float = 0.0, embeddings_initializer="uniform",
                      name: str = "bag_of_embeddings") -> keras.Model:
    """Word embeddings pooled over the padding mask (mean, or max as paper 004's ψ).

    Paper 004: Embedding(d = 200, GloVe-initialised when given) → dropout 0.25
    right after the lookup → component-wise max over the tokens.
    `embeddings_initializer` may be a `[vocabulary_size, hidden_dim]` array.
    """
    inputs = _text_inputs(sequence_length)
    if not isinstance(embeddings_initializer, str):
        embeddings_initializer = keras.initializers.Constant(embeddings_initializer)
    x = keras.layers.Embedding(vocabulary_size, hidden_dim, embeddings_initializer=embeddings_initializer,
                               name="embeddings")(inputs["token_ids"])
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    pooled = MaskedPooling(pooling, name=f"{pooling}_pool")(x, mask=inputs["padding_mask"])
    return keras.Model(inputs, {"sequence_output": x, "pooled_output": pooled}, name=name)


def bilstm(vocabulary_size: int, sequence_length: int = 101, embedding_dim: int = 200, units: int = 300,
           name: str = "bilstm") -> keras.Model:
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
        keras.layers.LSTM(units, return_sequences=True, return_state=True), name="bilstm")(x, mask=mask)
    states, fwd_h, _, bwd_h, _ = outputs
    last = keras.layers.Concatenate(name="final_states")([fwd_h, bwd_h])
    return keras.Model(inputs, {"sequence_output": states, "pooled_output": last}, name=name)
