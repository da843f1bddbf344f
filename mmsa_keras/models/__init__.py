"""The models of the five papers, one folder per paper (DESIGN.md section 3)."""

from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet import (CMAC, HSTEC, OTE, BertResnetImageOnly, BertResnetTextOnly,
                                          NativeCat, NativeCombine)

__all__ = ["CMAC", "HSTEC", "OTE", "BertResnetImageOnly", "BertResnetTextOnly", "MultimodalModel", "NativeCat",
           "NativeCombine"]
