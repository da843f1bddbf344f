"""The models of the five papers, one folder per paper (DESIGN.md section 3)."""

from mmsa_keras.models import bert_resnet, instagram_wann, joint_fusion, mvsa_mha, mvso_gated
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet import (CMAC, HSTEC, OTE, BertResnetImageOnly, BertResnetTextOnly,
                                          NativeCat, NativeCombine)

from mmsa_keras.models.joint_fusion import (CommonSpaceFusion, EarlyFusion, JointFusion,
                                           JointFusionImageOnly, JointFusionTextOnly, LateFusion)

__all__ = ["CommonSpaceFusion", "EarlyFusion", "JointFusion", "JointFusionImageOnly", "JointFusionTextOnly",
           "LateFusion", "CMAC", "HSTEC", "OTE", "BertResnetImageOnly", "BertResnetTextOnly", "MultimodalModel", "NativeCat",
           "NativeCombine"]
