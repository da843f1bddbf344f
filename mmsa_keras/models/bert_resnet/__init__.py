"""Paper 002: Multimodal sentiment analysis based on BERT and ResNet (Table 4)."""

from mmsa_keras.models.bert_resnet.bert_resnet_image_only import BertResnetImageOnly
from mmsa_keras.models.bert_resnet.bert_resnet_text_only import BertResnetTextOnly
from mmsa_keras.models.bert_resnet.native_cat import NativeCat

__all__ = ["BertResnetImageOnly", "BertResnetTextOnly", "NativeCat"]
