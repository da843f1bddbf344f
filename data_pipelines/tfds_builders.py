"""tensorflow-datasets builders for MVSA-Single, MVSA-Multiple and the Twitter sentiment CSV.

They read the user's own copy (`manual_dir`) with the same readers as
`--format mvsa` / `--format twitter_csv`, so `tfds.load` returns the same
posts, and never touch the network:

    import data_pipelines.tfds_builders  # registers the builders
    import tensorflow_datasets as tfds
    builder = tfds.builder("mvsa_single", data_dir="~/tfds")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir="/data/MVSA_Single"))
    ds = tfds.load("mvsa_single", data_dir="~/tfds", split="train")

Each example has `id`, `text` ("" when the post has none), `image` (the encoded
image file's bytes, "" when there is none; decode with
`data_pipelines.images.decode_image_bytes`) and `label` (0 negative, 1 neutral,
2 positive). MVSA is cleaned with protocol A (builder config "protocol_b" for
B); every post goes to the "train" split unless the release carries its own
splits, mirroring the reader.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_datasets as tfds

from data_pipelines.datasets import load_dataset
from data_pipelines.post import SENTIMENT_CLASSES
from data_pipelines.report import DataReport

MVSA_INSTRUCTIONS = """\
Download MVSA-{variant} (Niu et al., MMM 2016; e.g. from the MCRLab page of the
University of Ottawa or a mirror), unpack it, and pass the folder holding
`labelResultAll.txt` (or `train.txt`, or the split JSON files) and `data/` as
`manual_dir`.
"""

TWITTER_INSTRUCTIONS = """\
Download `Twitter_Data.csv` ("Twitter and Reddit Sentimental analysis Dataset",
Hussein 2021, on Kaggle) and pass the folder holding it as `manual_dir`.
"""


def _examples(dataset):
    for split, posts in dataset.splits.items():
        yield split, [p for p in posts if p.label is not None]


def _encoded(path):
    if not path:
        return b""
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


class _MVSABase(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release, read with mmsa-keras's MVSA reader."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="protocol_a", description="majority vote; neutral + polar → polar"),
        tfds.core.BuilderConfig(name="protocol_b", description="text and image labels must agree"),
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "text": tfds.features.Text(),
                    "image": tfds.features.Tensor(shape=(), dtype=tf.string),
                    "label": tfds.features.ClassLabel(names=list(SENTIMENT_CLASSES)),
                }
            ),
            supervised_keys=None,
        )

    def _split_generators(self, dl_manager):
        protocol = "B" if self.builder_config.name == "protocol_b" else "A"
        dataset = load_dataset(str(dl_manager.manual_dir), "mvsa", report=DataReport(max_messages=0), protocol=protocol)
        names = {"all": "train"}
        return {names.get(split, split): self._generate_examples(posts) for split, posts in _examples(dataset)}

    def _generate_examples(self, posts):
        for p in posts:
            yield p.id, {"id": p.id, "text": p.text or "", "image": _encoded(p.image_path), "label": p.label}


class MvsaSingle(_MVSABase):
    """MVSA-Single: 4,869 image-text pairs from Twitter, one annotator (4,511 after protocol A)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = MVSA_INSTRUCTIONS.format(variant="Single")


class MvsaMultiple(_MVSABase):
    """MVSA-Multiple: 19,600 pairs, three annotators (about 17,024 after protocol A)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = MVSA_INSTRUCTIONS.format(variant="Multiple")


class TwitterSentiment(tfds.core.GeneratorBasedBuilder):
    """Hussein (2021) Twitter sentiment CSV: text only, -1/0/1 → negative/neutral/positive."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release, read with mmsa-keras's twitter_csv reader."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = TWITTER_INSTRUCTIONS

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=list(SENTIMENT_CLASSES)),
                }
            ),
            supervised_keys=("text", "label"),
        )

    def _split_generators(self, dl_manager):
        dataset = load_dataset(str(dl_manager.manual_dir), "twitter_csv", report=DataReport(max_messages=0))
        return {"train": self._generate_examples(dataset["all"])}

    def _generate_examples(self, posts):
        for p in posts:
            yield p.id, {"id": p.id, "text": p.text, "label": p.label}
