"""mmsa-keras: multimodal (image + text) sentiment and emotion models in Keras 3.

Submodules: `layers`, `encoders`, `models` (one folder per paper), `registry`,
`training`, `evaluation`, `export`, `cli`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mmsa_keras import encoders, layers, models, registry  # noqa: E402
from mmsa_keras.registry import create_model, list_models  # noqa: E402

__version__ = "0.1.0"
__all__ = ["create_model", "encoders", "layers", "list_models", "models", "registry"]
