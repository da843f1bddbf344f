"""Paper 004, Table 5: accuracy when only one modality is given at test time.

The single-input classifiers, and the joint and common space fusion models
(trained on both modalities) evaluated with the text removed ("image") or
the image removed ("text") from every test post.
"""

from experiments.configs.joint_fusion_table4 import TEXT_BASELINE, base, common_space_row

P = {  # reddit image, reddit text, flickr image, flickr text
    "single": (77.48, 78.4, 56.869, 88.3),
    "joint": (35.83, 69.47, 29.46, 85.81),
    "common": (71.03, 71.96, 69.03, 89.14),
}


def acc(reddit, flickr):
    return {"reddit": {"accuracy": reddit}, "flickr": {"accuracy": flickr}}


def get_config(smoke: bool = False) -> dict:
    rows = [
        {
            "name": "Image classifier",
            "model": "joint_fusion_image_only",
            "overrides": {"hidden_dim": None},
            "paper": acc(P["single"][0], P["single"][2]),
        },
        {
            "name": "Text classifier",
            "model": "joint_fusion_text_only",
            "paper": acc(P["single"][1], P["single"][3]),
            "departures": [TEXT_BASELINE],
        },
        {"name": "Joint fusion (both)", "model": "joint_fusion", "paper": {}},
        {
            "name": "Joint fusion, image only",
            "kind": "without",
            "from_row": "Joint fusion (both)",
            "drop": "text",
            "paper": acc(P["joint"][0], P["joint"][2]),
        },
        {
            "name": "Joint fusion, text only",
            "kind": "without",
            "from_row": "Joint fusion (both)",
            "drop": "image",
            "paper": acc(P["joint"][1], P["joint"][3]),
        },
        common_space_row("Common space fusion (both)", {}),
        {
            "name": "Common space, image only",
            "kind": "without",
            "from_row": "Common space fusion (both)",
            "drop": "text",
            "paper": acc(P["common"][0], P["common"][2]),
        },
        {
            "name": "Common space, text only",
            "kind": "without",
            "from_row": "Common space fusion (both)",
            "drop": "image",
            "paper": acc(P["common"][1], P["common"][3]),
        },
    ]
    config = base(
        "Multimodal classification for analysing social media (paper 004), Table 5",
        rows,
        smoke,
        "Rows 'image only' / 'text only' evaluate the trained fusion model with the other modality "
        "removed from every test post (presence flag 0).",
    )
    config["metrics"] = ["accuracy"]
    config["unit"] = "percent"
    return config
