"""The four seed steps wired together: what the command line and the Evaluator run."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .augment import AugmentedModel, augment
from .config import Config
from .errors import ConfigError
from .images import ImageSource, check_size, load_image
from .solve import SolveResult, solve
from .targets import capture_content_targets, capture_style_targets
from .vgg import Normalizer, build_vgg19, layer_names, tap


def pick_device(name: str = "auto") -> torch.device:
    """`"auto"` picks CUDA, then Apple's MPS, then the CPU; any other name is used as given."""
    if name != "auto":
        try:
            return torch.device(name)
        except RuntimeError as exc:
            raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or mps") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def deepest_layer(config: Config) -> str:
    """The last layer any loss reads, after which the network is cut off."""
    taps = [tap(n, config.relu_in_place) for n in (*config.style_layers, *config.content_layers)]
    return max(taps, key=layer_names().index)


def min_side(config: Config) -> int:
    """Smallest image side that still leaves one pixel at the deepest layer (16 for conv5_1)."""
    names = layer_names()
    pools = sum(1 for n in names[: names.index(deepest_layer(config))] if n.startswith("pool"))
    return 2**pools


def initial_image(content: Tensor, config: Config) -> Tensor:
    """The starting image (1, 3, H, W): the content, uniform noise (seeded), or a file."""
    if config.init == "content":
        return content.clone()
    if config.init == "noise":
        g = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=g).to(content.device)
    return _resize_to(load_image(config.init), content)


def as_list(styles: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    """One style image or several, as a list."""
    return list(styles) if isinstance(styles, (list, tuple)) else [styles]


def prepare(content: ImageSource, styles: ImageSource | Sequence[ImageSource], config: Config = Config(),
            device: torch.device | None = None, net: torch.nn.Sequential | None = None,
            init: Tensor | None = None) -> AugmentedModel:
    """Load the images, run seed steps 1-3 and return the augmented model ready to `solve`.

    `net` reuses an already built VGG19 (it must reach the deepest layer); `init` overrides
    `config.init` with an RGB image (1, 3, h, w), resized to the content's size.
    """
    device = device or pick_device(config.device)
    style_list = as_list(styles)
    content_img = check_size(load_image(content, config.size), min_side(config), "content image").to(device)
    style_imgs = [check_size(load_image(s, config.style_size or config.size), min_side(config), "style image")
                  .to(device) for s in style_list]
    start = initial_image(content_img, config) if init is None else _resize_to(init, content_img)
    if net is None:
        net = build_vgg19(config.weights, config.pooling, deepest_layer(config), config.fast_conv).to(device)
    norm = Normalizer(config.weights)
    style_t = capture_style_targets(net, norm, style_imgs, config.style_layers, config.relu_in_place,
                                    kind=config.style_loss)
    content_t = capture_content_targets(net, norm, content_img, config.content_layers, config.relu_in_place)
    return augment(net, norm, style_t, content_t, start, config)


def _resize_to(image: Tensor, like: Tensor) -> Tensor:
    """`image` resized to the height and width of `like`, on its device: (1, 3, H, W) in [0, 1]."""
    size = tuple(like.shape[-2:])
    if tuple(image.shape[-2:]) == size:
        return image.to(like.device)
    resized = torch.nn.functional.interpolate(image, size=size, mode="bicubic", antialias=True)
    return resized.clamp(0, 1).to(like.device)


def stylize(content: ImageSource, styles: ImageSource | Sequence[ImageSource], config: Config = Config(),
            **solve_kwargs) -> SolveResult:
    """All four seed steps: returns the `SolveResult` of `solve(prepare(...), config)`."""
    return solve(prepare(content, styles, config), config, **solve_kwargs)
