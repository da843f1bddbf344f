"""Paper 004: Duong, Lebret, Aberer, multimodal classification for analysing social media."""

from mmsa_keras.models.joint_fusion.common_space_fusion import CommonSpaceFusion
from mmsa_keras.models.joint_fusion.early_fusion import EarlyFusion
from mmsa_keras.models.joint_fusion.joint_fusion import JointFusion
from mmsa_keras.models.joint_fusion.joint_fusion_image_only import JointFusionImageOnly
from mmsa_keras.models.joint_fusion.joint_fusion_text_only import JointFusionTextOnly
from mmsa_keras.models.joint_fusion.late_fusion import LateFusion

__all__ = [
    "CommonSpaceFusion",
    "EarlyFusion",
    "JointFusion",
    "JointFusionImageOnly",
    "JointFusionTextOnly",
    "LateFusion",
]
