"""Paper 004 (Duong, Lebret, Aberer), Table 4: fusion models on Reddit and Flickr.

Accuracy (%) and macro/micro F1 (fractions) of the image and text
classifiers, late, early, joint and common space fusion. Test = the top 10% of
all posts by upvotes (Reddit) or agreement (Flickr), validation = the next 10%
(`--format emotion_folders`, split "popularity"). SGD lr 0.01, d = 200,
h = 100, g = 3 (Reddit) / 4 (Flickr), λ = 3. `--variant reddit|flickr`
chooses the paper column (and Flickr's filters: majority agreement, English,
more than 5 words). Late fusion multiplies the probabilities of the trained
Image and Text rows.
"""

from experiments.configs._common import finish

METRICS = ["accuracy", "f1_macro", "f1_micro"]
UNITS = {"accuracy": "percent", "f1_macro": "fraction", "f1_micro": "fraction"}
PAPER = {
    "Image": ((77.48, 0.77, 0.78), (56.87, 0.67, 0.73)),
    "Text": ((78.4, 0.77, 0.78), (88.3, 0.85, 0.88)),
    "Late fusion": ((83.33, 0.82, 0.83), (91.83, 0.87, 0.91)),
    "Early fusion": ((84.11, 0.81, 0.83), (92.69, 0.89, 0.92)),
    "Joint fusion": ((86.29, 0.84, 0.86), (93.01, 0.90, 0.93)),
    "Common space fusion": ((86.92, 0.85, 0.87), (93.44, 0.91, 0.934)),
}
TEXT_BASELINE = (
    "the text baseline is fastText-like: max-pooled 200-d word embeddings → Linear(h) → softmax, "
    "trained here (the paper used fastText itself)"
)


def paper(name):
    reddit, flickr = PAPER[name]
    return {"reddit": dict(zip(METRICS, reddit)), "flickr": dict(zip(METRICS, flickr))}


def common_space_row(name, paper_values):
    return {
        "name": name,
        "model": "common_space_fusion",
        "paper": paper_values,
        "overrides": {"num_negatives": 3, "classification_weight": 3.0},
        "variant_overrides": {"flickr": {"num_negatives": 4}},
    }


def base(title, rows, smoke, notes=""):
    config = {
        "title": title,
        "paper": "004",
        "dataset": {
            "name": "the Reddit / Flickr emotion sets",
            "format": "emotion_folders",
            "options": {"split": "popularity"},
            "default_variant": "reddit",
            "variant_options": {"flickr": {"min_agreement": 3, "min_words": 5, "english": True}},
            "split_description": "test = top 10% by upvotes (Reddit) / agreement (Flickr), validation = the next 10%",
        },
        "split": "test",
        "unit": UNITS,
        "metrics": METRICS,
        "class_names": ["negative", "neutral", "positive"],
        "paper_encoders": "InceptionV3 (ImageNet, frozen) and GloVe-initialised 200-d word embeddings",
        "encoders": {"text": "bag_of_embeddings", "image": "inception_v3", "image_weights": "imagenet"},
        "embedded_encoders": {"text": "bag_of_embeddings", "image": "small_cnn"},
        "training": {
            "optimizer": "sgd",
            "learning_rate": 0.01,
            "momentum": 0.0,
            "epochs": 50,
            "batch_size": 32,
            "patience": 5,
            "augment": False,
            "sequence_length": 64,
        },
        "finetune_note": "the paper keeps InceptionV3 frozen (its word embeddings train in every run)",
        "glove_uses": ["embeddings"],
        "departures": [
            "early stopping on the validation loss (patience 5) within 50 epochs (the paper gives no epoch count)",
            "Flickr's English filter is a stop-word test (the paper does not say how)",
            "the popularity split orders posts of equal upvotes/agreement by a seeded shuffle (the paper does "
            "not say how ties are broken; Flickr's agreement is a small integer, so ties are common)",
            "settings the paper leaves open, chosen here: a vocabulary of the 20,000 most frequent training "
            "words, captions cut to 64 tokens, batch 32 (--set / --batch-size / --sequence-length change them)",
        ],
        "rows": rows,
        "notes": notes,
    }
    return finish(config, smoke)


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            "name": "Image",
            "model": "joint_fusion_image_only",
            "paper": paper("Image"),
            "overrides": {"hidden_dim": None},
        },
        {"name": "Text", "model": "joint_fusion_text_only", "paper": paper("Text"), "departures": [TEXT_BASELINE]},
        {
            "name": "Late fusion",
            "model": "late_fusion",
            "paper": paper("Late fusion"),
            "uses": {"text_model": "Text", "image_model": "Image"},
            "departures": ["the product of the trained Image and Text rows' probabilities; " + TEXT_BASELINE],
        },
        {"name": "Early fusion", "model": "early_fusion", "paper": paper("Early fusion")},
        {"name": "Joint fusion", "model": "joint_fusion", "paper": paper("Joint fusion")},
        common_space_row("Common space fusion", paper("Common space fusion")),
    ]
    return base(
        "Multimodal classification for analysing social media (paper 004), Table 4",
        rows,
        smoke,
        "F-Macro and F-Micro are fractions as in the paper. The class names are the dataset's (Reddit: 4 "
        "subreddits, Flickr: 8 emotions).",
    )
