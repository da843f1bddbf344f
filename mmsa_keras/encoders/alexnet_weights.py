"""Convert the common Caffe AlexNet weights to this project's AlexNet (paper 003's fc7 features).

The widely used numpy export of the BVLC Caffe AlexNet, `bvlc_alexnet.npy`
(a pickled dict `{layer: [weights, biases]}`, read here by an unpickler that admits
only NumPy arrays, dicts, lists and strings, so a crafted file cannot run code with conv kernels as
`[height, width, in_channels / groups, out_channels]` and fully connected
weights as `[inputs, outputs]`, flattened from NHWC), is what
`convert_caffe_alexnet(src, out)` reads. Caffe's conv2, conv4 and conv5 are
split in two groups (two GPUs); their kernels become block-diagonal full
kernels here, which compute exactly the grouped convolution. Caffe's local
response normalisation has no weights; this AlexNet computes it as Caffe does
(`LocalResponseNormalization`), so the converted model gives Caffe's fc7
(tested against a direct grouped-convolution + LRN reference). The result is a `.weights.h5`
file for `--image-weights alexnet=FILE` (and `mmsa_keras.encoders.alexnet(weights=FILE)`).

    mmsa convert-alexnet bvlc_alexnet.npy alexnet.weights.h5
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from data_pipelines.outputs import OutputDirError
from mmsa_keras.encoders.image_encoders import alexnet

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


#: the only callables a Caffe AlexNet `.npy` may name: NumPy's array reconstruction, dicts and lists
_ALLOWED_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "dict"), ("builtins", "list"), ("__builtin__", "dict")}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays, dicts, lists and strings; any other class or function is refused
    (a crafted `.npy` cannot run code: nothing it names is imported or called)."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: only NumPy arrays, dicts, lists and strings are read")


def read_npy_dict(path: str):
    """The object stored in a `.npy` file, read without running code.

    A plain numeric array is read with `allow_pickle=False`; an object array
    (how `np.save` stores a dict) through `_ArraysOnlyUnpickler`.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        array = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError("the pickled object is not the array its header describes")
    return array


def load_caffe_npy(path: str) -> dict:
    try:
        data = read_npy_dict(path)
        data = data.item() if data.dtype == object and data.shape == () else dict(data)
    except (OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError, AttributeError) as e:
        raise ValueError(f"{path}: not a Caffe AlexNet .npy ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a Caffe AlexNet .npy (holds a {type(data).__name__}, not a dict)")
    missing = [k for k in (*GROUPS, "fc6", "fc7") if k not in data]
    if missing:
        raise ValueError(f"{path}: no {missing} (expected the layers conv1..conv5, fc6, fc7)")
    return data


def convert_caffe_alexnet(src: str, out: str, image_size: int = 227, force: bool = False) -> str:
    """Write `out` (.weights.h5) with the Caffe AlexNet weights of `src` in this project's AlexNet."""
    if not out.endswith(".weights.h5"):
        raise ValueError(f"{out}: the output must be a .weights.h5 file")
    if os.path.lexists(out) and not force:
        raise OutputDirError(f"{out} exists; mmsa does not overwrite a file: choose another name, or --force")
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
    tmp = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.getpid()}.{os.path.basename(out)}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out
