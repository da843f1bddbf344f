"""`mmsa features extract`: fill the shared feature store with one frozen encoder's outputs.

The encoder, its weights and its preprocessing are resolved by the same
functions as `mmsa train` (`mmsa_keras.app.plan`), and the store is keyed by
content only, so a later `mmsa train` with the same encoder on the same data
finds these features instead of encoding the posts again.
"""

from __future__ import annotations

from data_pipelines.features import extract_features
from data_pipelines.image_cache import ImageCache, default_image_cache_dir
from mmsa_keras.app.builders import build_encoder, encoder_arguments, make_preprocessor
from mmsa_keras.app.config import TrainConfig
from mmsa_keras.app.plan import PreprocessingPlan, default_feature_store, preprocessing_settings, resolve_encoder
from mmsa_keras.app.runs import read_dataset
from mmsa_keras.encoders import IMAGE_ENCODERS
from mmsa_keras.errors import UsageError


def extract(
    config: TrainConfig,
    encoder: str,
    sequences: bool = False,
    batch_size: int = 32,
    num_shards: int = 1,
    shard_index: int = 0,
):
    modality = "image" if encoder in IMAGE_ENCODERS else "text"
    config = config.replace(**{f"{modality}_encoder": encoder})
    enc = resolve_encoder(config, modality)
    if not enc.pretrained:
        raise UsageError(f"{encoder} is trained from scratch: there is nothing frozen to extract")
    for note in enc.notes:
        print(f"[plan] note: {note}")
    image_size, normalisation, tokenizer = preprocessing_settings(config, {modality: enc})
    pre = make_preprocessor(
        PreprocessingPlan(
            image_size=image_size,
            normalisation=normalisation,
            sequence_length=config.sequence_length,
            tokenizer=tokenizer,
            augment=False,
            balance_to=None,
            source_size=config.image_source_size,
        )
    )
    dataset, report, _ = read_dataset(config.data_dir, config.format, config.format_options)
    posts = dataset.all_posts()
    if modality == "image" and normalisation == "mean_std":  # never for pretrained image encoders
        raise UsageError(f"{encoder} needs training-split statistics; extract it through `mmsa train`")
    model = build_encoder(enc, pre, seed=config.seed)
    cache = None
    if modality == "image":
        with_images = [p for p in posts if p.image_path]
        cache = (
            ImageCache.build(with_images, image_size, default_image_cache_dir(), source_size=config.image_source_size)
            if with_images
            else None
        )
    store = config.feature_store or default_feature_store()
    fs = extract_features(
        model,
        modality,
        posts,
        pre,
        store,
        batch_size=batch_size,
        sequences=sequences,
        encoder_spec={"name": enc.name, **encoder_arguments(enc, pre)},
        image_cache=cache,
        num_shards=num_shards,
        shard_index=shard_index,
    )
    print(report.summary())
    if fs is not None:
        print(f"{fs.manifest['num_posts']} posts, outputs {fs.manifest['outputs']} in {fs.directory}")
    return fs
