"""Convert the common Caffe AlexNet weights to this project's AlexNet (paper 003's fc7 features).

The widely used numpy export of the BVLC Caffe AlexNet, `bvlc_alexnet.npy`
(a pickled dict `{layer: [weights, biases]}` with conv kernels as
`[height, width, in_channels / groups, out_channels]` and fully connected
weights as `[inputs, outputs]`, flattened from NHWC), is what
`convert_caffe_alexnet(src, out)` reads. Caffe's conv2, conv4 and conv5 are
split in two groups (two GPUs); their kernels become block-diagonal full
kernels here, which compute exactly the grouped convolution. Caffe's local
response normalisation has no weights: this AlexNet's BatchNormalization
layers in its place are set to the identity. The result is a `.weights.h5`
file for `--image-weights alexnet=FILE` (and `mmsa_keras.encoders.alexnet(weights=FILE)`).

    mmsa convert-alexnet bvlc_alexnet.npy alexnet.weights.h5
"""

from __future__ import annotations

import numpy as np

#: layer → groups of the Caffe model
GROUPS = {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}


def ungroup(kernel: np.ndarray, groups: int) -> np.ndarray:
    """A grouped `[h, w, in/groups, out]` kernel as the equivalent block-diagonal `[h, w, in, out]` one."""
    if groups == 1:
        return kernel
    h, w, cin, cout = kernel.shape
    full = np.zeros((h, w, cin * groups, cout), kernel.dtype)
    per = cout // groups
    for g in range(groups):
        full[:, :, g * cin : (g + 1) * cin, g * per : (g + 1) * per] = kernel[:, :, :, g * per : (g + 1) * per]
    return full


def load_caffe_npy(path: str) -> dict:
    try:
        data = np.load(path, encoding="latin1", allow_pickle=True)
        data = data.item() if data.dtype == object and data.shape == () else dict(data)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a Caffe AlexNet .npy ({e})") from None
    missing = [k for k in (*GROUPS, "fc6", "fc7") if k not in data]
    if missing:
        raise ValueError(f"{path}: no {missing} (expected the layers conv1..conv5, fc6, fc7)")
    return data


def convert_caffe_alexnet(src: str, out: str, image_size: int = 227) -> str:
    """Write `out` (.weights.h5) with the Caffe AlexNet weights of `src` in this project's AlexNet."""
    from mmsa_keras.encoders.image_encoders import alexnet

    data = load_caffe_npy(src)
    model = alexnet(image_size=image_size)
    for name, groups in GROUPS.items():
        kernel, bias = (np.asarray(x, np.float32) for x in data[name])
        layer = model.get_layer(name)
        full = ungroup(kernel, groups)
        expected = tuple(layer.kernel.shape)
        if full.shape != expected:
            raise ValueError(f"{src}: {name} kernel {kernel.shape} (groups {groups}) does not fit {expected}")
        layer.set_weights([full, bias])
    for name in ("fc6", "fc7"):
        weights, bias = (np.asarray(x, np.float32) for x in data[name])
        layer = model.get_layer(name)
        if weights.shape != tuple(layer.kernel.shape):
            raise ValueError(
                f"{src}: {name} weights {weights.shape} do not fit {tuple(layer.kernel.shape)} "
                f"(was the model built for {image_size}x{image_size} inputs?)"
            )
        layer.set_weights([weights, bias])
    for name in ("conv1_norm", "conv2_norm"):  # where Caffe has LRN: the identity
        layer = model.get_layer(name)
        c = layer.gamma.shape[0]
        layer.set_weights(
            [
                np.ones(c, np.float32),
                np.zeros(c, np.float32),
                np.zeros(c, np.float32),
                np.full(c, 1.0 - layer.epsilon, np.float32),
            ]
        )
    if not out.endswith(".weights.h5"):
        raise ValueError(f"{out}: the output must be a .weights.h5 file")
    model.save_weights(out)
    return out
