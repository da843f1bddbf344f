"""Paper 000, section 5: the classical baselines.

Random Forest on flattened resized pixels (5-fold grid search over
n_estimators and max_depth; the paper picks 400 and 10): 43.33% accuracy,
F1 0.40 / 0.44 / 0.46. TF-IDF + linear SVM on lemmatised captions (grid over
C; the paper picks 1): 77.34%, precision/recall negative 0.79/0.76, neutral
0.74/0.87, positive 0.81/0.69. The paper ran the Random Forest on CrowdFlower
images and the SVM on the Twitter CSV; on a dataset without images (or
without captions) the row that needs them is reported as not run.
"""

from experiments.configs._common import finish

METRICS = [
    "accuracy",
    "f1_negative",
    "f1_neutral",
    "f1_positive",
    "precision_negative",
    "recall_negative",
    "precision_neutral",
    "recall_neutral",
    "precision_positive",
    "recall_positive",
]


def get_config(smoke: bool = False) -> dict:
    small_grid = {"param_grid": {"n_estimators": [10], "max_depth": [5]}, "cv": 2}
    config = {
        "title": "Interpreting user sentiment in Instagram posts (paper 000): classical baselines",
        "paper": "000",
        "dataset": {
            "name": "CrowdFlower image polarity (RF) and the Twitter sentiment CSV (SVM)",
            "format": "twitter_csv",
            "options": {},
        },
        "split": "test",
        "unit": "percent",
        "metrics": METRICS,
        "class_names": ["negative", "neutral", "positive"],
        "paper_encoders": "none (scikit-learn on pixels and TF-IDF)",
        "encoders": {"text": None, "image": None},
        "embedded_encoders": {"text": None, "image": None},
        "training": {},
        "rows": [
            {
                "name": "Random Forest (pixels)",
                "kind": "random_forest",
                "paper": {"accuracy": 43.33, "f1_negative": 40.0, "f1_neutral": 44.0, "f1_positive": 46.0},
                "params": {"image_size": 32},
                "smoke_params": small_grid,
            },
            {
                "name": "TF-IDF + SVM",
                "kind": "tfidf_svm",
                "paper": {
                    "accuracy": 77.34,
                    "precision_negative": 79.0,
                    "recall_negative": 76.0,
                    "precision_neutral": 74.0,
                    "recall_neutral": 87.0,
                    "precision_positive": 81.0,
                    "recall_positive": 69.0,
                },
                "smoke_params": {"cv": 2},
            },
        ],
        "notes": "The Random Forest's and the SVM's chosen hyper-parameters are in metrics.json of each row.",
    }
    return finish(config, smoke)
