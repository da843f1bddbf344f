"""Dataset readers, tf.data pipelines, augmentation, tokenisation and the feature store.

Data flows one way (docs/ARCHITECTURE.md §1): a reader yields `Post` records, a
`Preprocessor` turns them into a `tf.data.Dataset` of feature dicts, and a model
from `mmsa_keras.registry` consumes the dict.
"""

from data_pipelines.post import NO_LABEL, SENTIMENT_CLASSES, MultimodalDataset, Post
from data_pipelines.report import DataReport

__all__ = ["NO_LABEL", "SENTIMENT_CLASSES", "DataReport", "MultimodalDataset", "Post"]
