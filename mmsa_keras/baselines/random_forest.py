"""Random Forest on flattened resized pixels (paper 000, section 5.1)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV

from data_pipelines.images import decode_image_bytes


class PixelRandomForest:
    """Images → RGB, resized to `image_size` square, flattened, scaled to [0, 1] →
    `RandomForestClassifier`, its `n_estimators` and `max_depth` chosen by a
    5-fold grid search (the paper picks 400 trees of depth 10; 43.33% accuracy).

    Posts without a (decodable) image cannot be classified from pixels: `fit`
    and `predict` take only posts with an image (the runner counts the rest).

    Args:
        image_size: int. Default 32.
        param_grid: dict for `GridSearchCV`. Default n_estimators (100, 400),
            max_depth (5, 10, None).
        cv: int. Folds. Default 5. seed: int. Default 0.
    """

    def __init__(self, image_size=32, param_grid=None, cv=5, seed=0):
        self.image_size = image_size
        self.param_grid = param_grid or {"n_estimators": [100, 400], "max_depth": [5, 10, None]}
        self.cv = cv
        self.seed = seed
        self.search = None

    def features(self, posts) -> np.ndarray:
        rows = []
        for p in posts:
            with open(p.image_path, "rb") as f:
                image, _ = decode_image_bytes(tf.constant(f.read()), self.image_size)
            rows.append(image.numpy().reshape(-1) / 255.0)
        return np.stack(rows)

    def fit(self, posts):
        labels = np.array([p.label for p in posts])
        folds = min(self.cv, int(np.bincount(labels).min())) if len(set(labels)) > 1 else 2
        self.search = GridSearchCV(
            RandomForestClassifier(random_state=self.seed, n_jobs=-1), self.param_grid, cv=max(2, folds), n_jobs=1
        )
        self.search.fit(self.features(posts), labels)
        return self

    def predict_proba(self, posts, num_classes) -> np.ndarray:
        proba = self.search.predict_proba(self.features(posts))
        out = np.zeros((len(posts), num_classes))
        out[:, self.search.classes_] = proba
        return out

    @property
    def best_params(self):
        return dict(self.search.best_params_)
