"""Paper 000's classical baselines (scikit-learn): Random Forest on pixels, TF-IDF + linear SVM."""

from mmsa_keras.baselines.random_forest import PixelRandomForest
from mmsa_keras.baselines.tfidf_svm import TfidfSVM, lemmatise

__all__ = ["PixelRandomForest", "TfidfSVM", "lemmatise"]
