"""Paper 004's late fusion (Table 4, row "Late fusion")."""

import keras

from mmsa_keras.api_export import mmsa_export
from mmsa_keras.layers.probability_fusion import ProbabilityFusion
from mmsa_keras.models.base import PROBABILITIES, MultimodalModel
from mmsa_keras.models.joint_fusion.features import PSI, joint_fusion_features, low_rank_classifier
from mmsa_keras.models.registration import register_model


@register_model("late_fusion", "argmax of the product of the unimodal classifiers' probabilities", **PSI)
@mmsa_export("mmsa_keras.models.LateFusion")
class LateFusion(MultimodalModel):
    """Two independent unimodal classifiers; the predicted class has the highest product.

    Paper 004, section 3: "Late fusion requires the construction of two
    independent classifiers ... The predicted class is then the highest
    product between the two classifiers". The text classifier is
    `JointFusionTextOnly`'s (ψ → Linear(h) → Linear(C)), the image classifier
    `JointFusionImageOnly`'s (γ → Linear(C)); each is trained with its own
    cross-entropy (no loss on the fused output, so they stay independent).
    `probabilities` is the re-normalised product, whose argmax is the paper's
    prediction; with one modality absent it is the other classifier's output.

    Given `text_model` and `image_model` (the trained text and image
    baselines, as the paper's late fusion multiplies the probabilities of its
    already-trained unimodal classifiers), those are frozen and composed: the
    model has nothing left to train, and the runner evaluates it as it is.

    Outputs a dict: `probabilities`, `text_probabilities`, `image_probabilities`.
    """

    #: composed of trained models, it takes raw posts (its classifiers are the trained models' own)
    feature_mode_with_models = False

    paper = "004"
    table = "Table 4 (Late fusion)"

    def __init__(
        self,
        text_encoder=None,
        image_encoder=None,
        text_feature_shape=None,
        image_feature_shape=None,
        num_classes=8,
        hidden_dim=100,
        text_model=None,
        image_model=None,
        **kwargs,
    ):
        inputs = {}
        if (text_model is None) != (image_model is None):
            raise ValueError("give both text_model and image_model (trained baselines), or neither")
        if text_model is not None:
            text_encoder = image_encoder = None  # the trained models bring their own
            text_model.trainable = False
            image_model.trainable = False
            for model in (text_model, image_model):
                for name, spec in model.input.items():
                    if name not in inputs:
                        inputs[name] = keras.Input(spec.shape[1:], dtype=spec.dtype, name=name)
            p_text = text_model({k: inputs[k] for k in text_model.input})
            p_image = image_model({k: inputs[k] for k in image_model.input})
            presence = [inputs["text_present"], inputs["image_present"]]
        else:
            f = joint_fusion_features(inputs, text_encoder, image_encoder, text_feature_shape, image_feature_shape)
            p_text = low_rank_classifier(f["text"], num_classes, hidden_dim, name="text_classifier")
            p_image = low_rank_classifier(f["image"], num_classes, None, name="image_classifier")
            presence = [f["text_present"], f["image_present"]]
        fused = ProbabilityFusion("product", name="product")([p_text, p_image], presence=presence)
        outputs = {PROBABILITIES: fused, "text_probabilities": p_text, "image_probabilities": p_image}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.text_model, self.image_model = text_model, image_model
        self._store_config(
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_feature_shape=text_feature_shape,
            image_feature_shape=image_feature_shape,
            num_classes=num_classes,
            hidden_dim=hidden_dim,
        )

    def get_config(self):
        config = super().get_config()
        if self.text_model is not None:
            config["text_model"] = keras.saving.serialize_keras_object(self.text_model)
            config["image_model"] = keras.saving.serialize_keras_object(self.image_model)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("text_model", "image_model"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return super().from_config(config)

    def training_objective(self):
        return {
            "loss": {
                "text_probabilities": "sparse_categorical_crossentropy",
                "image_probabilities": "sparse_categorical_crossentropy",
            },
            "metrics": {PROBABILITIES: ["accuracy"]},
        }
