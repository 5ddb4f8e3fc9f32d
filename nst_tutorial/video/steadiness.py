"""How much a painted clip flickers: Ruder et al.'s warping error between consecutive frames."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..images import quantise
from .flow import optical_flow
from .warp import reliable, warp


def warping_errors(painted: Sequence[Tensor], frames: Sequence[Tensor]) -> list[float]:
    """For each frame after the first: the mean squared difference, in 8-bit levels squared,
    between the painted frame and the previous painted frame warped to it along the flow of the
    input `frames`, over the pixels `warp.reliable` keeps. Both lists hold (1, 3, H, W) in [0, 1]
    (the painted ones rounded to 8 bits here, as saved); 0 is perfectly steady.
    """
    out = []
    for i in range(1, len(painted)):
        frame, earlier = frames[i], frames[i - 1]
        backward, forward = optical_flow(frame, earlier), optical_flow(earlier, frame)
        mask = reliable(forward, backward)
        now = quantise(painted[i]).to(frame.device)
        before = warp(quantise(painted[i - 1]).to(frame.device), backward)
        squared = (mask * (now - before).pow(2)).sum() / (3 * mask.sum().clamp_min(1))
        out.append(squared.item() * 255**2)
    return out
