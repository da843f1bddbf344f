"""Paper 000: Vedrines, Shaltout, Cicek, interpreting user sentiment in Instagram posts."""

from mmsa_keras.models.instagram_wann.instagram_image_cnn import InstagramImageCNN
from mmsa_keras.models.instagram_wann.instagram_text_classifier import InstagramTextClassifier
from mmsa_keras.models.instagram_wann.instagram_wann import InstagramWANN
from mmsa_keras.models.instagram_wann.wann import wann

__all__ = ["InstagramImageCNN", "InstagramTextClassifier", "InstagramWANN", "wann"]
