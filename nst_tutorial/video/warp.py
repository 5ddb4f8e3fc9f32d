"""Moving an image along a flow, and Ruder et al.'s check of where the flow can be trusted."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """`image` (B, C, H, W) moved along `flow` (1, 2, H, W): out(p) = image(p + flow(p)), bilinear.

    Points that fall outside the frame read its nearest border pixel (`inside` marks them).
    """
    grid = _grid(flow).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def inside(flow: Tensor) -> Tensor:
    """(1, 1, H, W): 1 where p + flow(p) lies in the frame, else 0."""
    g = _grid(flow)
    return ((g.abs() <= 1 + 1e-6).all(dim=-1, keepdim=True)).permute(0, 3, 1, 2).float()


def reliable(forward: Tensor, backward: Tensor) -> Tensor:
    """Ruder et al.'s mask c (1, 1, H, W) for frame i: 1 where the flow back to frame i - 1 can be
    trusted, 0 at disocclusions, motion boundaries and points that came from outside the frame.

    `backward` is the flow from frame i to i - 1, `forward` from i - 1 to i. Followed there and
    back, a visible point returns home: w~(p) = forward(p + backward(p)) is about -backward(p).
    Disoccluded where |w~ + b|^2 > 0.01 (|w~|^2 + |b|^2) + 0.5; a motion boundary where
    |grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002 (their equations, in pixels).
    """
    there_and_back = warp(forward, backward)
    mismatch = (there_and_back + backward).pow(2).sum(1, keepdim=True)
    scale = there_and_back.pow(2).sum(1, keepdim=True) + backward.pow(2).sum(1, keepdim=True)
    disoccluded = mismatch > 0.01 * scale + 0.5
    boundary = _gradient_squared(backward) > 0.01 * backward.pow(2).sum(1, keepdim=True) + 0.002
    return (~disoccluded & ~boundary).float() * inside(backward)


def long_term(masks: dict[int, Tensor]) -> dict[int, Tensor]:
    """Ruder et al.'s long-term masks: each pixel is held to the nearest earlier frame (fewest
    frames back) that still sees it, c_j = max(c_j - sum of c_k for k < j, 0)."""
    out, covered = {}, None
    for back in sorted(masks):
        out[back] = masks[back] if covered is None else (masks[back] - covered).clamp_min(0)
        covered = masks[back] if covered is None else covered + masks[back]
    return out


def _grid(flow: Tensor) -> Tensor:
    """Where p + flow(p) lies, as grid_sample's (1, H, W, 2) in [-1, 1] (corners at -1 and 1)."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")
    x = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], dim=-1)


def _gradient_squared(flow: Tensor) -> Tensor:
    """|grad u|^2 + |grad v|^2 of a flow (1, 2, H, W) by central differences: (1, 1, H, W)."""
    padded = F.pad(flow, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return (dx.pow(2) + dy.pow(2)).sum(1, keepdim=True)
