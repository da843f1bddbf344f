"""Public layers, one per file (docs/ARCHITECTURE.md §8)."""

from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.layers.cross_modal_attention import CrossModalAttention
from mmsa_keras.layers.fused_batch_norm import FusedBatchNormalization, fuse_batch_norm
from mmsa_keras.layers.gating import GL1, GL2, UnitInterval
from mmsa_keras.layers.image_preprocessing import ApplicationPreprocessing
from mmsa_keras.layers.local_response_norm import LocalResponseNormalization
from mmsa_keras.layers.masked_pooling import MaskedPooling
from mmsa_keras.layers.modality_pooling import ModalityPooling
from mmsa_keras.layers.nearest_label import NearestLabel
from mmsa_keras.layers.presence_mask import PresenceMask
from mmsa_keras.layers.probability_fusion import ProbabilityFusion
from mmsa_keras.layers.temperature_scaling import TemperatureScaling
from mmsa_keras.layers.tfidf_classifier import BlendProbabilities, TfidfClassifier

__all__ = [
    "GL1",
    "GL2",
    "ApplicationPreprocessing",
    "BlendProbabilities",
    "ClassifierHead",
    "CrossModalAttention",
    "FusedBatchNormalization",
    "LocalResponseNormalization",
    "MaskedPooling",
    "ModalityPooling",
    "NearestLabel",
    "PresenceMask",
    "ProbabilityFusion",
    "TemperatureScaling",
    "TfidfClassifier",
    "UnitInterval",
    "fuse_batch_norm",
]
