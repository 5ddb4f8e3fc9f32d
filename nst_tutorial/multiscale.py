"""Coarse-to-fine solving: most iterations at low resolution, the last ones at full resolution.

An iteration at half the side costs a quarter as much, and the large structures a style adds
(swirls, strokes) settle just as well there. Upsampling that result and finishing at full
size reaches a given loss in less time than solving at full size from the photo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from torch import Tensor

from .config import Config
from .images import ImageSource, load_image
from .pipeline import as_list, deepest_layer, min_side, pick_device, prepare
from .solve import Callback, SolveResult, StopFlag, solve
from .vgg import build_vgg19


def stage_sizes(config: Config, aspect: float = 1.0) -> list[int]:
    """Long side of each stage, e.g. [128, 256, 512] for size 512 and scales (0.25, 0.5, 1).

    Stages below 16 px, or whose short side (long side / `aspect`) would be too small for the
    deepest layer, are left out; the full-size stage always stays.
    """
    sizes = [round(config.size * s) for s in config.scales]
    return [s for s in sizes[:-1] if s >= 16 and s / aspect >= min_side(config)] + sizes[-1:]


def solve_coarse_to_fine(
    content: ImageSource,
    styles: ImageSource | Sequence[ImageSource],
    config: Config = Config(),
    *,
    callback: Callback | None = None,
    stop: StopFlag = None,
    progress: bool = True,
) -> SolveResult:
    """Solve at each size of `stage_sizes(config)`, each stage starting from the last one's image.

    Coarse stages run `config.coarse_iterations` each, the full-size stage `config.iterations`.
    Targets are captured once per stage, at that stage's size. `callback` and `stop` apply to
    every stage. Returns the full-size stage's result (or the stage a stop request ended).
    With `scales=(1.0,)` this is the plain single-scale solve the seed describes.
    """
    device = pick_device(config.device)
    # built once for all stages
    net = build_vgg19(config.weights, config.pooling, deepest_layer(config), config.fast_conv).to(device)
    # Decode once at full size; each stage resizes these tensors instead of re-reading files.
    content = load_image(content, config.size)
    styles = [load_image(s, config.style_size or config.size) for s in as_list(styles)]
    sizes = stage_sizes(config, aspect=max(content.shape[-2:]) / min(content.shape[-2:]))
    image: Tensor | None = None
    for i, size in enumerate(sizes):
        final = i == len(sizes) - 1
        stage = replace(config, size=size, style_size=_scaled(config.style_size, size / config.size))
        model = prepare(content, styles, stage, device, net=net, init=image)
        result = solve(model, stage, iterations=config.iterations if final else config.coarse_iterations,
                       callback=callback, stop=stop, progress=progress)
        if result.stopped:
            break
        image = model.rgb()
    return result


def _scaled(size: int | None, factor: float) -> int | None:
    return None if size is None else max(16, round(size * factor))
