"""The four steps wired together, coarse to fine: what the command line, the notebooks, the widgets
and the batches run.

An iteration at half the side costs a quarter as much, and the large structures a style adds
(swirls, strokes) settle there too. With `Config.scales` of several stages, `stylize` solves
at each size in turn, each stage starting where the last one ended (`carry_up`); with
`scales=(1.0,)` it is the seed's plain solve at full size. A run's images are decoded and
checked once (`load_inputs`), its device picked and its stage sizes computed there too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .augment import AugmentedModel, augment
from .config import Config
from .control.colour import grey, luminance, match_histogram, match_luminance
from .control.regions import MaskSources, load_masks
from .errors import ConfigError, NonFiniteLossError
from .images import ImageSource, check_size, image_size, load_image, long_side, resize, resize_to
from .solve import Callback, SolveResult, StopFlag, solve
from .speed.fastconv import use_bf16, use_low_memory
from .stages import (carry_up, full_size_config, min_side, network, pick_device, stage_config, stage_sizes,
                     wants_bf16)
from .targets import capture_content_targets, capture_style_targets
from .vgg import Normalizer

Styles = ImageSource | Sequence[ImageSource]
CONTENT_FIX = "a larger size (--size), or shallower layers"
STYLE_FIX = "a larger style_size (--style-size), or shallower layers"


Temporal = dict[int, tuple[Tensor, Tensor]]  # video: frames back -> (earlier result warped here, reliable mask)


@dataclass(frozen=True)
class Plan:
    """What a run will do, known before any image is decoded: where it computes, and at which sizes."""

    device: torch.device  # picked once, from `Config.device`
    shape: tuple[int, int]  # (H, W) of the picture at full size
    sizes: list[int]  # long side of each stage, coarse to fine


def make_plan(config: Config, content: ImageSource | tuple[int, int]) -> Plan:
    """The `Plan` for `content` (an image, of which only a file's header is read, or its (H, W))."""
    h, w = long_side(*(content if isinstance(content, tuple) else image_size(content)), config.size)
    return Plan(pick_device(config.device), (h, w), stage_sizes(config, aspect=max(h, w) / min(h, w)))


@dataclass(frozen=True)
class Inputs:
    """A run's images, decoded and checked once, and what follows from them."""

    content: Tensor  # the photo at full size, (1, 3, H, W) in [0, 1], on the plan's device
    styles: list[Tensor]  # the paintings: long side style_size (or as decoded, to be stretched: MyCaffe)
    plan: Plan  # the device and the stage sizes
    masks: Tensor | None = None  # one region per painting, (S, 1, H, W) at the photo's size
    notes: tuple[str, ...] = ()  # what loading the masks noticed (resizing, which colour went where)
    init: Tensor | None = None  # where the first stage starts instead of `config.init` (video: the last result, warped)
    temporal: Temporal | None = None  # video: earlier results warped to this frame, with their masks (`video.paint`)

    @property
    def device(self) -> torch.device:
        return self.plan.device

    @property
    def sizes(self) -> list[int]:
        return self.plan.sizes


def load_inputs(content: ImageSource, styles: Styles, config: Config,
                masks: MaskSources | Tensor | None = None, plan: Plan | None = None) -> Inputs:
    """Decode the photo, the paintings and the masks once and check their sizes; `plan` (made
    here unless given) picks the device and the stage sizes.

    Raises `ImageLoadError` (or its `ImageTooSmallError`) with a one-line reason, and
    `ConfigError` for a device this machine lacks.
    """
    if masks is not None and (config.style_loss != "gram" or config.gram_scale is not None
                              or config.style_layer_sources is not None):
        raise ConfigError("regions work with the Gram style loss of our default arithmetic only "
                          "(style_loss='gram', no gram_scale, no style_layer_sources)")
    need = min_side(config)
    full = check_size(load_image(content, config.size), need, "content image", CONTENT_FIX)
    stretch = config.style_resize == "content"  # then each stage resizes from the decoded original
    sources = _as_list(styles)
    paintings = [load_image(s, None if stretch else config.style_size or config.size) for s in sources]
    if not stretch:
        for s in paintings:
            check_size(s, need, "style image", STYLE_FIX)
    names = [Path(s).name if isinstance(s, (str, os.PathLike)) else f"style {i + 1}"
             for i, s in enumerate(sources)]
    regions = None if masks is None else load_masks(masks, len(paintings), (full.shape[-2], full.shape[-1]), names)
    if plan is None or plan.shape != tuple(full.shape[-2:]):
        plan = make_plan(config, (full.shape[-2], full.shape[-1]))
    device = plan.device
    return Inputs(full.to(device), [s.to(device) for s in paintings], plan,
                  None if regions is None else regions.masks.to(device), tuple(regions.notes) if regions else ())


def prepare(content: ImageSource | Inputs, styles: Styles | None = None, config: Config | None = None, *,
            net: torch.nn.Sequential | None = None, init: Tensor | None = None,
            temporal: Temporal | None = None) -> AugmentedModel:
    """Seed steps 1-3 at `config.size`: the augmented model, ready to `solve`.

    `content` is a photo (then `styles` are the paintings) or a run's `Inputs`, resized here to
    the stage's size, not decoded again. `net` reuses a VGG19 that reaches the deepest layer;
    `init` (1, 3, h, w) overrides `config.init`. With the inputs' masks each painting gets its
    region; `config.preserve_color` keeps the photo's colours (`control.colour`). `temporal`
    (video) holds the frame to earlier results warped to it, each resized to this stage.
    """
    config = config or Config()
    inputs = content if isinstance(content, Inputs) else load_inputs(content, [] if styles is None else styles, config)
    photo = resize(inputs.content, config.size)
    if config.style_resize == "content":  # MyCaffe: the style stretched to the content's exact size
        paintings = [resize_to(s, photo) for s in inputs.styles]
    else:
        paintings = [resize(s, config.style_size or config.size) for s in inputs.styles]
    # Keeping the photo's colours (preserve_color), the "palette" start is the photo itself.
    start = (initial_image(photo, config, () if config.preserve_color else paintings) if init is None
             else resize_to(init, photo))
    seen, paintings, start = _colour_inputs(config, photo, paintings, start)
    held = {back: (_as_solved(config, resize_to(target, photo)),
                   resize(mask.to(photo.device), tuple(photo.shape[-2:]), mode="area"))
            for back, (target, mask) in (temporal or {}).items()}
    net = net if net is not None else network(config, inputs.device)
    use_low_memory(net, config.low_memory)  # before the targets: their full-size pass would grow NNPACK's workspace
    use_bf16(net, wants_bf16(config))  # the targets too: in the same rounding as the image they meet
    norm = Normalizer(config.weights)
    masks = None if inputs.masks is None else resize(inputs.masks, tuple(photo.shape[-2:]), mode="area")
    style_t = capture_style_targets(net, norm, paintings, config, per_style=masks is not None)
    content_t = capture_content_targets(net, norm, seen, config)
    model = augment(net, norm, style_t, content_t, start, config, masks=masks, temporal=held)
    model.colour_from = photo if config.preserve_color == "luminance" else None
    return model


def initial_image(content: Tensor, config: Config, paintings: Sequence[Tensor] = ()) -> Tensor:
    """The starting image (1, 3, H, W): the content, the content in the paintings' colours
    ("palette"), uniform noise (seeded), or a file.

    "palette" maps the photo's colours linearly to the mean and covariance of all the
    paintings' pixels (`match_histogram`, the reverse of `preserve_color="histogram"`): the
    palette is most of what the shallow style layers ask for, so the solve need not spend
    iterations painting it in, and every edge of the photo stays where it was.
    """
    if config.init == "content":
        return content.clone()
    if config.init == "palette":
        if not paintings:
            return content.clone()
        pooled = torch.cat([p.flatten(2) for p in paintings], dim=2).unsqueeze(2)  # (1, 3, 1, all pixels)
        return match_histogram(content, pooled)
    if config.init == "noise":
        g = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=g).to(content.device)
    return resize_to(load_image(config.init), content)


def _colour_inputs(config: Config, content: Tensor, styles: list[Tensor],
                   start: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
    """What the network sees under `config.preserve_color`: the painting's colours matched to the
    photo's ("histogram"), or every image reduced to its luminance ("luminance")."""
    if config.preserve_color == "histogram":
        return content, [match_histogram(s, content, config.color_match) for s in styles], start
    if config.preserve_color == "luminance":  # solve on luminance alone; `rgb()` puts the colours back
        return grey(luminance(content)), [grey(match_luminance(s, content)) for s in styles], grey(luminance(start))
    return content, styles, start


def _as_solved(config: Config, image: Tensor) -> Tensor:
    """`image` (1, 3, H, W) as the solve holds it: its grey luminance under luminance-only transfer."""
    return grey(luminance(image)) if config.preserve_color == "luminance" else image


def stylize(
    content: ImageSource | Inputs,
    styles: Styles | None = None,
    config: Config | None = None,
    *,
    callback: Callback | None = None,
    stop: StopFlag = None,
    progress: bool = True,
    net: torch.nn.Sequential | None = None,
    masks: MaskSources | Tensor | None = None,
) -> SolveResult:
    """All four seed steps, solved at each stage of `config.scales`; returns the `SolveResult`.

    `content` and `styles` are images (files, bundled names, arrays, tensors), or `content` is
    a run's `Inputs` (`load_inputs`), decoded already. `masks` gives each style its own region
    of the photo (`control.regions.load_masks`: one label image, or one greyscale mask per style).
    A video frame's `Inputs` also carry where it starts and the earlier results that hold it
    (`init`, `temporal`: `video.paint` builds both from the optical flow).

    Coarse stages run `config.coarse_iterations` each, the full-size stage `config.iterations`
    (after coarse stages without the style layers past `config.full_size_deepest`);
    `result.stages` records every stage. The result always ends at full size: a stop request,
    Ctrl-C or a non-finite loss in a coarse stage resizes the image up and makes the full-size
    model current. To continue at full size: `solve(result.model, config, result=result, iterations=n)`.
    """
    config = config or Config()
    if not isinstance(content, Inputs):
        content = load_inputs(content, [] if styles is None else styles, config, masks)
    inputs = content
    net = net if net is not None else network(config, inputs.device)
    result: SolveResult | None = None
    for i, size in enumerate(inputs.sizes):
        final = i == len(inputs.sizes) - 1
        stage = stage_config(config, size, inputs.styles) if not (final and i) else full_size_config(config)
        start = inputs.init if result is None else carry_up(_current(result), inputs.content, size,
                                                            config.coarse_carry)
        model = prepare(inputs, config=stage, net=net, init=start, temporal=inputs.temporal)
        if result is None:
            result = SolveResult(image=model.rgb())
        result.begin_stage(model)
        try:
            solve(model, stage, iterations=config.iterations if final else config.coarse_iterations,
                  result=result, callback=callback, stop=stop, progress=progress,
                  label=f"stage {i + 1}/{len(inputs.sizes)}, {size} px")
        except NonFiniteLossError:
            if not final:  # the full-size model this run would have made
                result.begin_stage(prepare(inputs, config=full_size_config(config), net=net, init=result.image,
                                           temporal=inputs.temporal))
            raise
        if result.stopped and not final:
            result.begin_stage(prepare(inputs, config=full_size_config(config), net=net, init=_current(result),
                                       temporal=inputs.temporal))
            break
    assert result is not None  # stage_sizes always keeps the full-size stage
    return result


def _as_list(styles: Styles) -> list[ImageSource]:
    """One style image or several, as a list."""
    return list(styles) if isinstance(styles, (list, tuple)) else [styles]  # type: ignore[list-item]


def _current(result: SolveResult) -> Tensor:
    """The image the current stage has reached (not its best): where the next stage starts."""
    assert result.model is not None
    return result.model.rgb()
