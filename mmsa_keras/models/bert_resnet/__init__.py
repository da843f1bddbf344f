"""Paper 002: Multimodal sentiment analysis based on BERT and ResNet (Table 4)."""

from mmsa_keras.models.bert_resnet.bert_resnet_image_only import BertResnetImageOnly
from mmsa_keras.models.bert_resnet.bert_resnet_text_only import BertResnetTextOnly
from mmsa_keras.models.bert_resnet.cmac import CMAC
from mmsa_keras.models.bert_resnet.hstec import HSTEC
from mmsa_keras.models.bert_resnet.native_cat import NativeCat
from mmsa_keras.models.bert_resnet.native_combine import NativeCombine
from mmsa_keras.models.bert_resnet.ote import OTE

__all__ = ["CMAC", "HSTEC", "OTE", "BertResnetImageOnly", "BertResnetTextOnly", "NativeCat", "NativeCombine"]
