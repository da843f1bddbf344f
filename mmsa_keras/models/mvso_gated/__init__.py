"""Paper 003: image and text sentiment on MVSO/Flickr (AlexNet/ResNet features, BiLSTM, GL1/GL2)."""

from mmsa_keras.models.mvso_gated.mvso_concat_linear import MVSOConcatLinear
from mmsa_keras.models.mvso_gated.mvso_embedding_classifier import MVSOEmbeddingClassifier
from mmsa_keras.models.mvso_gated.mvso_gated import MVSOGated
from mmsa_keras.models.mvso_gated.mvso_gated_embedding import MVSOGatedEmbedding
from mmsa_keras.models.mvso_gated.mvso_image_classifier import MVSOImageClassifier
from mmsa_keras.models.mvso_gated.mvso_text_bilstm import MVSOTextBiLSTM

__all__ = [
    "MVSOConcatLinear",
    "MVSOEmbeddingClassifier",
    "MVSOGated",
    "MVSOGatedEmbedding",
    "MVSOImageClassifier",
    "MVSOTextBiLSTM",
]
