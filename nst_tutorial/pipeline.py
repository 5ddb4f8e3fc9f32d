"""The four seed steps wired together, coarse to fine: what the CLI, the notebooks and the Evaluator run.

An iteration at half the side costs a quarter as much, and the large structures a style adds
(swirls, strokes) settle there too. With `Config.scales` of several stages, `stylize` solves
at each size in turn, each stage starting from the last one's image resized up; with
`scales=(1.0,)` it is the seed's plain solve at full size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor

from .augment import AugmentedModel, augment
from .colour import grey, luminance, match_histogram, match_luminance
from .config import Config
from .errors import ConfigError, NonFiniteLossError
from .fastconv import use_low_memory
from .images import ImageSource, check_size, load_image
from .regions import MaskSources, load_masks
from .solve import Callback, SolveResult, StopFlag, solve
from .targets import capture_content_targets, capture_style_targets
from .vgg import Normalizer, build_vgg19, layer_names, tap

Styles = ImageSource | Sequence[ImageSource]
CONTENT_FIX = "a larger size (--size), or shallower layers"
STYLE_FIX = "a larger style_size (--style-size), or shallower layers"


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


def network(config: Config, device: torch.device | None = None) -> torch.nn.Sequential:
    """The VGG19 that `config` asks for, cut after the deepest layer a loss reads."""
    net = build_vgg19(config.weights, config.pooling, deepest_layer(config), config.fast_conv, config.ceil_mode)
    return net.to(device or pick_device(config.device))


def initial_image(content: Tensor, config: Config) -> Tensor:
    """The starting image (1, 3, H, W): the content, uniform noise (seeded), or a file."""
    if config.init == "content":
        return content.clone()
    if config.init == "noise":
        g = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=g).to(content.device)
    return resize_to(load_image(config.init), content)


def as_list(styles: Styles) -> list[ImageSource]:
    """One style image or several, as a list."""
    return list(styles) if isinstance(styles, (list, tuple)) else [styles]  # type: ignore[list-item]


def prepare(content: ImageSource, styles: Styles, config: Config | None = None,
            device: torch.device | None = None, net: torch.nn.Sequential | None = None,
            init: Tensor | None = None, masks: Tensor | None = None) -> AugmentedModel:
    """Load the images, run seed steps 1-3 and return the augmented model ready to `solve`.

    `net` reuses an already built VGG19 (it must reach the deepest layer); `init` overrides
    `config.init` with an RGB image (1, 3, h, w), resized to the content's size. `masks`
    (S, 1, h, w), one per style, gives each style its region (`regions`); they are resized
    to the content's size. `config.preserve_color` keeps the photo's colours (`colour`).
    """
    config = config or Config()
    device = device or pick_device(config.device)
    need = min_side(config)
    content_img = check_size(load_image(content, config.size), need, "content image", CONTENT_FIX).to(device)
    if config.style_resize == "content":  # MyCaffe: the style stretched to the content's exact size
        style_imgs = [resize_to(load_image(s), content_img) for s in as_list(styles)]
    else:
        style_imgs = [check_size(load_image(s, config.style_size or config.size), need, "style image", STYLE_FIX)
                      .to(device)
                      for s in as_list(styles)]
    start = initial_image(content_img, config) if init is None else resize_to(init, content_img)
    photo = content_img
    content_img, style_imgs, start = _colour_inputs(config, content_img, style_imgs, start)
    net = net if net is not None else network(config, device)
    use_low_memory(net, config.low_memory)  # before the targets: their full-size pass would grow NNPACK's workspace
    norm = Normalizer(config.weights)
    if masks is not None:
        masks = F.interpolate(masks.to(device), size=content_img.shape[-2:], mode="area")
        style_t = _region_targets(net, norm, style_imgs, config)
    else:
        style_t = capture_style_targets(net, norm, style_imgs, config.style_layers, config.relu_in_place,
                                        kind=config.style_loss, gram_scale=config.gram_scale,
                                        sources=config.style_layer_sources)
    content_t = capture_content_targets(net, norm, content_img, config.content_layers, config.relu_in_place)
    model = augment(net, norm, style_t, content_t, start, config, masks=masks)
    model.colour_from = photo if config.preserve_color == "luminance" else None
    return model


def _colour_inputs(config: Config, content: Tensor, styles: list[Tensor],
                   start: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
    """What the network sees under `config.preserve_color`: the painting's colours matched to the
    photo's ("histogram"), or every image reduced to its luminance ("luminance")."""
    if config.preserve_color == "histogram":
        return content, [match_histogram(s, content, config.color_match) for s in styles], start
    if config.preserve_color == "luminance":  # solve on luminance alone; `rgb()` puts the colours back
        return grey(luminance(content)), [grey(match_luminance(s, content)) for s in styles], grey(luminance(start))
    return content, styles, start


def _region_targets(net: torch.nn.Sequential, norm: Normalizer, styles: list[Tensor],
                    config: Config) -> dict[str, Tensor]:
    """Each style's own Gram targets, stacked: {"conv1_1": (S, C, C), ...}, for guided losses."""
    if config.style_loss != "gram" or config.gram_scale is not None or config.style_layer_sources is not None:
        raise ConfigError("regions work with the Gram style loss of our default arithmetic only "
                          "(style_loss='gram', no gram_scale, no style_layer_sources)")
    per_style = [capture_style_targets(net, norm, [s], config.style_layers, config.relu_in_place) for s in styles]
    return {name: torch.cat([t[name] for t in per_style]) for name in config.style_layers}


def resize_to(image: Tensor, like: Tensor) -> Tensor:
    """`image` resized to the height and width of `like`, on its device: (1, 3, H, W) in [0, 1]."""
    size = tuple(like.shape[-2:])
    if tuple(image.shape[-2:]) == size:
        return image.to(like.device)
    resized = torch.nn.functional.interpolate(image, size=size, mode="bicubic", antialias=True)
    return resized.clamp(0, 1).to(like.device)


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
    falls that much more slowly (half the side: a quarter of the tolerance).
    """
    if size == config.size:
        return config
    full = config.style_size or config.size
    aspect = max(max(s.shape[-2:]) / min(s.shape[-2:]) for s in styles)
    smallest = max(16, math.ceil(min_side(config) * aspect))
    return replace(config, size=size, style_size=min(full, max(round(full * size / config.size), smallest)),
                   tolerance=config.tolerance * (size / config.size) ** 2)


def load_inputs(content: ImageSource, styles: Styles, config: Config) -> tuple[Tensor, list[Tensor]]:
    """Decode the content and style images once, at full size, and check they are large enough.

    Returns the content (1, 3, H, W) and the styles; raises `ImageLoadError` (or its
    `ImageTooSmallError`) with a one-line reason.
    """
    full = check_size(load_image(content, config.size), min_side(config), "content image", CONTENT_FIX)
    stretch = config.style_resize == "content"  # then each stage resizes from the decoded original
    style_imgs = [load_image(s, None if stretch else config.style_size or config.size) for s in as_list(styles)]
    if not stretch:
        for s in style_imgs:
            check_size(s, min_side(config), "style image", STYLE_FIX)
    return full, style_imgs


def stylize(
    content: ImageSource,
    styles: Styles,
    config: Config | None = None,
    *,
    callback: Callback | None = None,
    stop: StopFlag = None,
    progress: bool = True,
    net: torch.nn.Sequential | None = None,
    masks: MaskSources | Tensor | None = None,
) -> SolveResult:
    """All four seed steps, solved at each stage of `config.scales`; returns the `SolveResult`.

    `masks` gives each style its own region of the photo (`regions.load_masks`: one label
    image, or one greyscale mask per style).

    Each image is decoded once. Coarse stages run `config.coarse_iterations` each, the
    full-size stage `config.iterations`; `result.stages` records every stage. The result
    always ends at full size: a stop request, Ctrl-C or a non-finite loss in a coarse stage
    resizes the image up and makes the full-size model current. To continue at full size:
    `solve(result.model, config, result=result, iterations=n)`.
    """
    config = config or Config()
    device = pick_device(config.device)
    full, style_imgs = load_inputs(content, styles, config)
    h, w = full.shape[-2:]
    regions = None if masks is None else load_masks(masks, len(style_imgs), (h, w)).masks
    net = net if net is not None else network(config, device)
    sizes = stage_sizes(config, aspect=max(full.shape[-2:]) / min(full.shape[-2:]))
    result: SolveResult | None = None
    for i, size in enumerate(sizes):
        final = i == len(sizes) - 1
        stage = stage_config(config, size, style_imgs)
        init = None if result is None else carry_up(_current(result), full, size, config.coarse_carry)
        model = prepare(full, style_imgs, stage, device, net=net, init=init, masks=regions)
        if result is None:
            result = SolveResult(image=model.rgb())
        result.begin_stage(model)
        try:
            solve(model, stage, iterations=config.iterations if final else config.coarse_iterations,
                  result=result, callback=callback, stop=stop, progress=progress,
                  label=f"stage {i + 1}/{len(sizes)}, {size} px")
        except NonFiniteLossError:
            if not final:
                result.begin_stage(prepare(full, style_imgs, config, device, net=net, init=result.image,
                                           masks=regions))
            raise
        if result.stopped and not final:
            result.begin_stage(prepare(full, style_imgs, config, device, net=net, init=_current(result),
                                       masks=regions))
            break
    assert result is not None  # stage_sizes always keeps the full-size stage
    return result


def carry_up(image: Tensor, photo: Tensor, size: int, how: str = "image") -> Tensor:
    """Where the stage of long side `size` starts, from the last stage's `image` (1, 3, h, w).

    "image": that image resized up. "change": the photo at the new size plus what the last
    stage changed in its photo, resized up, so the new stage starts with the photo's full
    detail and the style's coarse structure.
    """
    if how == "image":
        return image
    new, old = load_image(photo, size), load_image(photo, max(image.shape[-2:])).to(image.device)
    change = F.interpolate(image - resize_to(old, image), size=new.shape[-2:], mode="bicubic", align_corners=False)
    return (new.to(image.device) + change).clamp(0, 1)


def _current(result: SolveResult) -> Tensor:
    """The image the current stage has reached (not its best): where the next stage starts."""
    assert result.model is not None
    return result.model.rgb()
