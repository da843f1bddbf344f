"""Paper 001: Alfano, multimodal sentiment analysis on MVSA (multi-head-attention fusion)."""

from mmsa_keras.models.mvsa_mha.mvsa_mha_fusion import MVSAMHAFusion
from mmsa_keras.models.mvsa_mha.mvsa_mha_image import MVSAMHAImage
from mmsa_keras.models.mvsa_mha.mvsa_mha_text import MVSAMHAText

__all__ = ["MVSAMHAFusion", "MVSAMHAImage", "MVSAMHAText"]
