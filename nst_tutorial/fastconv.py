"""VGG's 3x3 convolutions, 1.7-1.9x faster on the CPU at 512 px through NNPACK's fast algorithms.

A direct 3x3 convolution spends 9 multiply-adds per output pixel and channel pair. NNPACK
transforms tiles of the image (16x16 FFTs on large maps, Winograd's F(6x6, 3x3) on small
ones; it picks by tile count) so that channels mix by one elementwise product per transformed
tile position: far fewer multiplies, for a rounding error of about 1e-5 of the largest output
in float32. PyTorch ships NNPACK but its own convolution uses it only for batches of 16 or
more; style transfer runs batch 1, so we call it ourselves. Only the image learns, so the
backward pass needs the input gradient alone, and for a 3x3 convolution with padding 1 that
is again a 3x3 convolution, with the kernels flipped and transposed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import Tensor, nn


@cache
def nnpack_ready() -> bool:
    """True if this PyTorch build has NNPACK and it initialises on this CPU."""
    available = getattr(torch, "_nnpack_available", None)
    return bool(available and available())  # the call also initialises NNPACK


class _NnpackConv3x3(torch.autograd.Function):
    """3x3 convolution, padding 1, frozen weights: gradient for the input only."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(weight)
        return torch._nnpack_spatial_convolution(x.contiguous(), weight, bias, [1, 1])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (weight,) = ctx.saved_tensors
        # d/dx of conv(x, W) is conv(grad, W^T flipped): out/in channels swapped, kernel rotated 180 degrees
        w_t = weight.transpose(0, 1).flip(2, 3).contiguous()
        return torch._nnpack_spatial_convolution(grad.contiguous(), w_t, None, [1, 1]), None, None


class Conv3x3(nn.Conv2d):
    """`nn.Conv2d(c_in, c_out, 3, padding=1)` holding the given `weight` (c_out, c_in, 3, 3) and `bias`.

    With `fast` it runs through NNPACK when it can: for float32 CPU tensors with frozen
    weights. Anything else (a GPU, float64, weights that learn) takes `nn.Conv2d`'s own path,
    so the module is always correct. Maps smaller than `min_positions` also take that path:
    NNPACK transforms every kernel on every call, a cost that grows with c_in * c_out but not
    with the image, and on small maps it outweighs the savings (measured on VGG19, 128-512 px).
    """

    min_positions = 64 * 64

    def __init__(self, weight: Tensor, bias: Tensor, fast: bool = True) -> None:
        super().__init__(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
        assert self.bias is not None  # nn.Conv2d made one: bias=True is its default
        with torch.no_grad():
            self.weight.copy_(weight)
            self.bias.copy_(bias)
        self.fast = fast

    def reset_parameters(self) -> None:
        """Nothing: the constructor copies the given weights in, so random ones would be wasted work."""

    def forward(self, x: Tensor) -> Tensor:
        """(B, c_in, H, W) -> (B, c_out, H, W)."""
        if self.fast and self.uses_nnpack(x):
            return _NnpackConv3x3.apply(x, self.weight, self.bias)
        return super().forward(x)

    def uses_nnpack(self, x: Tensor) -> bool:
        """Whether NNPACK can and should take input `x` (`fast` aside)."""
        frozen = not (self.weight.requires_grad or (self.bias is not None and self.bias.requires_grad))
        large = x.shape[-2] * x.shape[-1] >= self.min_positions
        return frozen and large and x.device.type == "cpu" and x.dtype == torch.float32 and nnpack_ready()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, fast={self.fast}"
