"""NNPACK through PyTorch's private bindings, the one place they are used.

PyTorch ships NNPACK but its own convolution uses it only for batches of 16 or more; style
transfer runs batch 1, so we call `torch._nnpack_spatial_convolution` ourselves. It is not a
public API: if a PyTorch build lacks it, `nnpack_ready()` says so in one warning and the
convolutions take the public path (`Conv3x3` falls back to Winograd's or PyTorch's own).
"""

from __future__ import annotations

import warnings
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor

_PRIVATE = ("_nnpack_available", "_nnpack_spatial_convolution")


@cache
def nnpack_ready() -> bool:
    """True if this PyTorch build has NNPACK's bindings and NNPACK initialises on this CPU."""
    missing = [name for name in _PRIVATE if not callable(getattr(torch, name, None))]
    if missing:
        warnings.warn(f"this PyTorch has no torch.{missing[0]}: large maps use PyTorch's own convolution "
                      "(slower, same result)", RuntimeWarning, stacklevel=2)
        return False
    return bool(torch._nnpack_available())  # the call also initialises NNPACK


def nnpack_conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None, rows: int) -> Tensor:
    """3x3 convolution with padding 1 through NNPACK, `rows` output rows per call. (B, C, H, W) -> (B, C', H, W).

    Why strips: PyTorch keeps NNPACK's workspace, sized by the largest map it has transformed,
    for the life of the process (0.9 GB for VGG's 64-channel layers at 1024x1024). A strip
    reads one row of its neighbours on each side (zeros at the image's edges), so the result
    is the same as one call's; only the workspace shrinks with the strip.
    """
    x = x.contiguous()
    h = x.shape[-2]
    if h <= rows:
        return torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    out = x.new_empty(x.shape[0], weight.shape[0], h, x.shape[-1])
    for top in range(0, h, rows):
        bottom = min(top + rows, h)
        strip = x[..., max(top - 1, 0):bottom + 1, :]
        strip = F.pad(strip, (0, 0, int(top == 0), int(bottom == h)))  # the image's zero padding, at its edges only
        out[..., top:bottom, :] = torch._nnpack_spatial_convolution(strip.contiguous(), weight, bias, [0, 1])
    return out
