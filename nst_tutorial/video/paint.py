"""Painting a clip frame by frame with the lesson's `stylize`, each frame after the first started
from the last result warped along the flow and held to it by the temporal loss."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..config import Config
from ..errors import ImageLoadError
from ..images import ImageSource, load_image, quantise
from ..solve import SolveResult, StopFlag
from ..stages import network
from ..stylize import Inputs, Styles, Temporal, load_inputs, stylize
from .flow import optical_flow
from .warp import long_term, reliable, warp


@dataclass
class Frame:
    """One finished frame of a clip."""

    index: int  # 0-based position in the clip
    image: Tensor  # the painted frame, (1, 3, H, W) in [0, 1], rounded to 8 bits as it is saved
    seconds: float = 0.0  # time spent on it (0 for a frame finished by an earlier run)
    result: SolveResult | None = field(default=None, repr=False)  # its solve; None for a frame finished earlier


def frame_config(config: Config, first: bool, independent: bool) -> Config:
    """The `Config` of one frame: the first (and, with `independent`, every) frame is a full
    `stylize`; a later one solves at full size only, as coarse stages would throw away the detail
    of the warped result it starts from, for at most `config.later_frame_iterations` (Ruder et
    al. gave later frames half the first one's iterations; measured in benchmarks/RESULTS.md)."""
    if first or independent:
        return config
    return replace(config, scales=(1.0,), iterations=config.later_frame_iterations)


def temporal_inputs(frame: Tensor, previous: Sequence[Tensor], painted: Sequence[Tensor],
                    backs: Sequence[int]) -> tuple[Tensor, Temporal]:
    """Where frame i starts and what holds it, from the earlier input frames and their results.

    `previous[-j]` and `painted[-j]` are the input and the result j frames back, (1, 3, H, W).
    Returns the result one frame back warped to this frame (the start), and for each j in
    `backs` that exists the warped result j frames back with its mask (`warp.long_term`).
    """
    warped, masks = {}, {}
    for back in sorted(b for b in backs if b <= len(previous)):
        earlier = previous[-back]
        backward, forward = optical_flow(frame, earlier), optical_flow(earlier, frame)
        warped[back], masks[back] = warp(painted[-back], backward), reliable(forward, backward)
    # the paper's start, everywhere: what the flow cannot bring is left to the solve to repaint
    start = warped[1] if 1 in warped else warp(painted[-1], optical_flow(frame, previous[-1]))
    return start, {back: (warped[back], mask) for back, mask in long_term(masks).items()}


def stylize_video(frames: Iterable[ImageSource], styles: Styles, config: Config | None = None, *,
                  independent: bool = False, done: Sequence[Tensor] = (), progress: bool = True,
                  stop: StopFlag = None, total: int | None = None) -> Iterator[Frame]:
    """Paint `frames` (images of one size, in order) in `styles`; yields each `Frame` as it finishes.

    Each frame is brought to `config.size` as `stylize` would. The first frame is a full solve;
    each later one starts from the last result warped along the optical flow and carries a
    `TemporalLoss` (weight `config.temporal_weight`) for each of `config.temporal_frames`
    frames back. `independent` paints every frame on its own (flickers; for comparison).
    `done` holds results an earlier run finished (8-bit, as saved): those frames are yielded
    again without solving, and the next one continues from them. The bar counts frames, and
    a stop request or Ctrl-C during a frame ends the clip there, that frame unfinished.
    """
    config = config or Config()
    backs = max(config.temporal_frames)
    kept: list[Tensor] = []  # the last `backs` input frames
    painted: list[Tensor] = []  # and their results
    inputs: Inputs | None = None
    net: torch.nn.Sequential | None = None
    bar = tqdm(total=total, desc="frames", unit="frame", disable=not progress, leave=True)
    try:
        for i, source in enumerate(frames):
            if inputs is None:
                inputs = load_inputs(source, styles, config)
                net = network(config, inputs.device)
            else:
                inputs = replace(inputs, content=_same_size(load_image(source, config.size), inputs, i))
            frame = inputs.content
            if i < len(done):
                image = done[i].detach().float().to(frame.device)
                yield Frame(i, image)
            else:
                began = time.perf_counter()
                alone = i == 0 or independent
                backs_here = config.temporal_frames
                init, temporal = (None, None) if alone else temporal_inputs(frame, kept, painted, backs_here)
                settings = frame_config(config, i == 0, independent)
                plan = replace(inputs.plan, sizes=inputs.sizes[-len(settings.scales):])
                result = stylize(replace(inputs, plan=plan, init=init, temporal=temporal), config=settings,
                                 progress=False, stop=stop, net=net)
                if result.stopped:
                    return
                image = quantise(result.image)
                yield Frame(i, image, time.perf_counter() - began, result)
            kept, painted = (kept + [frame])[-backs:], (painted + [image])[-backs:]
            bar.update(1)
    finally:
        bar.close()


def _same_size(frame: Tensor, inputs: Inputs, index: int) -> Tensor:
    """`frame` on the inputs' device, if it has the first frame's size; else `ImageLoadError`."""
    if frame.shape != inputs.content.shape:
        (h, w), (h0, w0) = frame.shape[-2:], inputs.content.shape[-2:]
        raise ImageLoadError(f"frame {index + 1} is {w}x{h} at this size but the first frame is {w0}x{h0}: "
                             "every frame of a clip must have the same size")
    return frame.to(inputs.device)
