"""The models of the five papers, one folder per paper (docs/ARCHITECTURE.md §3).

Importing this package registers every model with `mmsa_keras.registry`.
"""

from mmsa_keras.models import bert_resnet, instagram_wann, joint_fusion, mvsa_mha, mvso_gated
from mmsa_keras.models.base import MultimodalModel
from mmsa_keras.models.bert_resnet import (
    CMAC,
    HSTEC,
    OTE,
    BertResnetImageOnly,
    BertResnetTextOnly,
    NativeCat,
    NativeCombine,
)
from mmsa_keras.models.instagram_wann import InstagramImageCNN, InstagramTextClassifier, InstagramWANN, wann
from mmsa_keras.models.joint_fusion import (
    CommonSpaceFusion,
    EarlyFusion,
    JointFusion,
    JointFusionImageOnly,
    JointFusionTextOnly,
    LateFusion,
)
from mmsa_keras.models.mvsa_mha import MVSAMHAFusion, MVSAMHAImage, MVSAMHAText
from mmsa_keras.models.mvso_gated import (
    MVSOConcatLinear,
    MVSOEmbeddingClassifier,
    MVSOGated,
    MVSOGatedEmbedding,
    MVSOImageClassifier,
    MVSOTextBiLSTM,
)

__all__ = [
    "CMAC",
    "HSTEC",
    "OTE",
    "BertResnetImageOnly",
    "BertResnetTextOnly",
    "CommonSpaceFusion",
    "EarlyFusion",
    "InstagramImageCNN",
    "InstagramTextClassifier",
    "InstagramWANN",
    "JointFusion",
    "JointFusionImageOnly",
    "JointFusionTextOnly",
    "LateFusion",
    "MVSAMHAFusion",
    "MVSAMHAImage",
    "MVSAMHAText",
    "MVSOConcatLinear",
    "MVSOEmbeddingClassifier",
    "MVSOGated",
    "MVSOGatedEmbedding",
    "MVSOImageClassifier",
    "MVSOTextBiLSTM",
    "MultimodalModel",
    "NativeCat",
    "NativeCombine",
    "bert_resnet",
    "instagram_wann",
    "joint_fusion",
    "mvsa_mha",
    "mvso_gated",
    "wann",
]
