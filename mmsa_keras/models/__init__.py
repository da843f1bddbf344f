"""The models of the five papers, one folder per paper (DESIGN.md section 3)."""

from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet import BertResnetImageOnly, BertResnetTextOnly, NativeCat

__all__ = ["BertResnetImageOnly", "BertResnetTextOnly", "MultimodalModel", "NativeCat"]
