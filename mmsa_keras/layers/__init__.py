"""Public layers, one per file (DESIGN.md section 7)."""

from mmsa_keras.layers.classifier_head import ClassifierHead
from mmsa_keras.layers.masked_pooling import MaskedPooling
from mmsa_keras.layers.presence_mask import PresenceMask

__all__ = ["ClassifierHead", "MaskedPooling", "PresenceMask"]
