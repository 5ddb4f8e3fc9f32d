"""Where and at which sizes a run solves: the device, VGG19 cut after the deepest loss layer, and
the coarse-to-fine stages with the hand-over from one to the next."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import cache
from dataclasses import replace

import torch
from torch import Tensor

from .config import Config
from .errors import ConfigError
from .images import resize
from .speed.bf16 import bf16_ready
from .vgg import build_vgg19, layer_names, tap


def pick_device(name: str = "auto") -> torch.device:
    """`"auto"` picks CUDA, then Apple's MPS, then the CPU; any other name must exist here.

    Raises `ConfigError` naming what is available, e.g. for "cuda" on a machine without CUDA.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use {' or '.join(available_devices())}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"CUDA is not available here; use --device {' or '.join(available_devices())}")
        if (device.index or 0) >= count:
            raise ConfigError(f"there is no {name} here: this machine has {count} CUDA device(s), "
                              f"cuda:0 to cuda:{count - 1}")
    elif device.type == "mps" and not _mps():
        raise ConfigError(f"Apple's MPS is not available here; use --device {' or '.join(available_devices())}")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} is not supported: use {' or '.join(available_devices())}")
    return device


def available_devices() -> list[str]:
    """What `pick_device` accepts on this machine: ["auto", "cpu"] plus "cuda" / "mps" when present."""
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _mps() else [])


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def wants_bf16(config: Config) -> bool:
    """Whether `config` runs the CPU convolutions in bfloat16: "bfloat16" does where `bf16_ready()`
    (elsewhere it warns once and runs in float32); "auto" does there for the Gram style loss only,
    the one whose pictures were judged in it (the Gaussian MMD's solve did not descend in it)."""
    if config.precision == "float32" or (config.precision == "auto" and config.style_loss != "gram"):
        return False
    if not bf16_ready() and config.precision == "bfloat16":
        _warn_no_bf16()
    return bf16_ready()


@cache
def _warn_no_bf16() -> None:
    warnings.warn("this CPU has no bfloat16 convolutions in oneDNN: precision='bfloat16' runs in float32",
                  RuntimeWarning, stacklevel=3)


def deepest_layer(config: Config) -> str:
    """The last layer any loss reads, after which the network is cut off."""
    taps = [tap(n, config.relu_in_place) for n in (*config.style_layers, *config.content_layers)]
    return max(taps, key=layer_names().index)


def min_side(config: Config) -> int:
    """Smallest image side that still leaves one pixel after the deepest layer a loss reads
    (16 for conv5_1, 32 for pool5)."""
    names = layer_names()
    pools = sum(1 for n in names[: names.index(deepest_layer(config)) + 1] if n.startswith("pool"))
    return 2**pools


def network(config: Config, device: torch.device) -> torch.nn.Sequential:
    """The VGG19 that `config` asks for, cut after the deepest layer a loss reads, on `device`."""
    net = build_vgg19(config.weights, config.pooling, deepest_layer(config), config.fast_conv, config.ceil_mode)
    return net.to(device)


def stage_sizes(config: Config, aspect: float = 1.0) -> list[int]:
    """Long side of each stage, e.g. [128, 256, 512] for size 512 and scales (0.25, 0.5, 1).

    Coarse stages whose short side (long side / `aspect`) would be too small for the deepest
    layer are left out; the full-size stage always stays.
    """
    sizes = [round(config.size * s) for s in config.scales]
    return [s for s in sizes[:-1] if s >= 16 and s / aspect >= min_side(config)] + sizes[-1:]


def stage_config(config: Config, size: int, styles: Sequence[Tensor]) -> Config:
    """`config` for one stage of long side `size`: the styles shrink in proportion, but never
    below what the deepest layer needs (nor above their full-size long side).

    A coarse stage's `tolerance` shrinks with its share of the full size's pixels: its
    iterations cost that share of a full-size one, so it is worth running until its loss
    falls that much more slowly (half the side: a quarter of the tolerance). Its content
    weighs `coarse_content` of the full-size stage's: the coarse stages lay out the style's
    large forms, and the full-size stage, which adds the fine texture, holds the photo's
    structure harder so that it does not redraw it: it needs fewer iterations to the same picture.
    """
    if size == config.size:
        return config
    full = config.style_size or config.size
    aspect = max(max(s.shape[-2:]) / min(s.shape[-2:]) for s in styles)
    smallest = max(16, math.ceil(min_side(config) * aspect))
    return replace(config, size=size, style_size=min(full, max(round(full * size / config.size), smallest)),
                   tolerance=config.tolerance * (size / config.size) ** 2,
                   content_weight=config.content_weight * config.coarse_content)


def full_size_config(config: Config) -> Config:
    """`config` for the full-size stage after coarse ones: no style layer deeper than
    `config.full_size_deepest`, so the network ends there.

    The deep layers read the large forms (Gatys et al. 2017, on scale), which the coarse stages
    have laid out; the full-size stage adds the fine texture. Leaving conv5_1 out there saves
    conv4_3 to conv5_1 at the largest size: a quarter of an evaluation at 256 px.
    """
    if config.full_size_deepest is None:
        return config
    order = layer_names()
    keep = [i for i, name in enumerate(config.style_layers)
            if order.index(name) <= order.index(config.full_size_deepest)]
    if len(keep) in (0, len(config.style_layers)):  # nothing deeper, or nothing left to match
        return config
    sources = config.style_layer_sources
    return replace(config, style_layers=tuple(config.style_layers[i] for i in keep),
                   style_layer_weights=tuple(config.style_layer_weights[i] for i in keep),
                   style_layer_sources=None if sources is None else tuple(sources[i] for i in keep))


def carry_up(image: Tensor, photo: Tensor, size: int, how: str = "image") -> Tensor:
    """Where the stage of long side `size` starts, from the last stage's `image` (1, 3, h, w).

    "image": that image (the next stage resizes it). "change": the photo at the new size plus
    what the last stage changed in its photo, resized up, so the new stage starts with the
    photo's full detail and the style's coarse structure.
    """
    if how == "image":
        return image
    new, old = resize(photo, size), resize(photo, max(image.shape[-2:])).to(image.device)
    change = resize(image - resize(old, tuple(image.shape[-2:])), tuple(new.shape[-2:]), signed=True)
    return (new.to(image.device) + change).clamp(0, 1)
