"""VGG's 3x3 convolutions on the CPU through fast algorithms: NNPACK's on large maps (1.7-1.9x
faster at 512 px), Winograd's with kernels transformed once on small ones (`winograd`).

A direct 3x3 convolution spends 9 multiply-adds per output pixel and channel pair. NNPACK
transforms tiles of the image (16x16 FFTs on large maps, Winograd's F(6x6, 3x3) on small
ones; it picks by tile count) so that channels mix by one elementwise product per transformed
tile position: far fewer multiplies, for a rounding error of about 1e-5 of the largest output
in float32 (`nnpack`). Only the image learns, so the backward pass needs the input gradient
alone, and for a 3x3 convolution with padding 1 that is again a 3x3 convolution, with the
kernels flipped and transposed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .bf16 import bf16_conv3x3, bf16_ready, bf16_weight
from .nnpack import nnpack_conv3x3, nnpack_ready
from .winograd import WinogradConv3x3, kernel_transform


class _NnpackConv3x3(torch.autograd.Function):
    """3x3 convolution, padding 1, frozen weights: gradient for the input only."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, rows: int) -> Tensor:
        ctx.save_for_backward(weight)
        ctx.rows = rows
        return nnpack_conv3x3(x, weight, bias, rows)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        (weight,) = ctx.saved_tensors
        # d/dx of conv(x, W) is conv(grad, W^T flipped): out/in channels swapped, kernel rotated 180 degrees
        w_t = weight.transpose(0, 1).flip(2, 3).contiguous()
        return nnpack_conv3x3(grad, w_t, None, ctx.rows), None, None, None


class Conv3x3(nn.Conv2d):
    """`nn.Conv2d(c_in, c_out, 3, padding=1)` holding the given `weight` (c_out, c_in, 3, 3) and `bias`, uncopied.

    With `fast`, float32 CPU tensors and frozen weights, it picks a fast algorithm by the map's
    size (`path`): NNPACK from `min_positions` up, Winograd's F(4x4, 3x3) with kernels
    transformed once (`winograd`) from `winograd_positions` up to there, and `nn.Conv2d`'s own
    path below and for anything else (a GPU, float64, weights that learn), so the module is
    always correct. NNPACK transforms every kernel on every call, a cost that grows with
    c_in * c_out but not with the image, so on small maps it loses. Below 16x16 the direct
    path runs: forward and backward, the two break even near 12x12 for 512 channels, and at
    16x12, where Winograd's path is faster per layer (11.0 against 15.1 ms), the default run
    ended no sooner (its rounding moved the stopping point). From 64x48 up NNPACK is as fast
    as Winograd's path and holds no transformed kernels (4x a layer's weights). Measured on
    VGG19 at 128-512 px, on this project's 2-core machine (`benchmarks/RESULTS.md`).
    """

    min_positions = 64 * 48
    winograd_positions = 16 * 16
    # With `low_memory`, the most output positions per NNPACK call (a 256x256 map in one piece);
    # larger maps go in strips of whole rows, a multiple of the 14 output rows of NNPACK's
    # 16x16 FFT tile so that no tile is cut.
    strip_positions = 256 * 256

    def __init__(self, weight: Tensor, bias: Tensor, fast: bool = True) -> None:
        super().__init__(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
        # The given tensors become the parameters, uncopied: a second copy of VGG's weights
        # would raise the peak memory by 48 MB while the network is built.
        self.weight, self.bias = nn.Parameter(weight.detach()), nn.Parameter(bias.detach())
        self.fast = fast
        self.low_memory = False  # NNPACK in strips (`nnpack_conv3x3`), no Winograd kernels kept: a little slower
        self.bf16 = False  # bfloat16 products (`bf16`) where oneDNN has them for this CPU: faster, 0.2% rounding
        self._winograd: tuple[tuple[int, int], Tensor] | None = None  # (weight's pointer and version, kernels)
        self._bf16: tuple[tuple[int, int], Tensor] | None = None  # (weight's pointer and version, bfloat16 copy)

    def reset_parameters(self) -> None:
        """Nothing: the constructor takes the given weights, so random ones would be wasted work."""

    def forward(self, x: Tensor) -> Tensor:
        """(B, c_in, H, W) -> (B, c_out, H, W)."""
        path = self.path(x)
        if path != "winograd":
            self._winograd = None  # a layer holds transformed kernels only while it uses them
        if path != "bf16":
            self._bf16 = None
        if path == "bf16":
            return bf16_conv3x3(x, self.bf16_weights(), self.bias)
        if path == "nnpack":
            return _NnpackConv3x3.apply(x, self.weight, self.bias, self.strip_rows(*x.shape[-2:]))
        if path == "winograd":
            return WinogradConv3x3.apply(x, self.winograd_kernels(), self.bias)
        return super().forward(x)

    def path(self, x: Tensor) -> str:
        """Which algorithm takes input `x`: "bf16", "nnpack", "winograd" or "direct" (`nn.Conv2d`'s)."""
        frozen = not (self.weight.requires_grad or (self.bias is not None and self.bias.requires_grad))
        if not (self.fast and frozen and x.device.type == "cpu" and x.dtype == torch.float32):
            return "direct"
        if self.bf16 and bf16_ready():
            return "bf16"
        return self.fast_path(x.shape[-2] * x.shape[-1], self.low_memory)

    @classmethod
    def fast_path(cls, positions: int, low_memory: bool = False) -> str:
        """The algorithm for a float32 CPU map of `positions` (H x W) when the weights are frozen."""
        if positions >= cls.min_positions:
            return "nnpack" if nnpack_ready() else "direct"  # Winograd's buffers grow 2.25x with the map
        return "winograd" if positions >= cls.winograd_positions and not low_memory else "direct"

    def winograd_kernels(self) -> Tensor:
        """The weights transformed for `winograd.winograd_conv3x3` (36, c_out, c_in), made once per weight."""
        key = (self.weight.data_ptr(), self.weight._version)  # new or changed weights: transform again
        if self._winograd is None or self._winograd[0] != key:
            self._winograd = key, kernel_transform(self.weight)
        return self._winograd[1]

    def bf16_weights(self) -> Tensor:
        """The weights as `bf16.bf16_conv3x3` takes them, made once per weight."""
        key = (self.weight.data_ptr(), self.weight._version)
        if self._bf16 is None or self._bf16[0] != key:
            self._bf16 = key, bf16_weight(self.weight)
        return self._bf16[1]

    def strip_rows(self, h: int, w: int) -> int:
        """Output rows per NNPACK call for an h x w map (see `nnpack_conv3x3`): all of them without `low_memory`."""
        if not self.low_memory:
            return h
        calls = math.ceil(h * w / self.strip_positions)
        return math.ceil(h / calls / 14) * 14

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, fast={self.fast}, low_memory={self.low_memory}"


def use_bf16(net: nn.Module, on: bool) -> None:
    """Turn `Conv3x3.bf16` on or off for every `Conv3x3` in `net`."""
    for module in net.modules():
        if isinstance(module, Conv3x3):
            module.bf16 = on


def use_low_memory(net: nn.Module, on: bool) -> None:
    """Turn `Conv3x3.low_memory` (NNPACK in strips, no Winograd kernels) on or off for every `Conv3x3` in `net`."""
    for module in net.modules():
        if isinstance(module, Conv3x3):
            module.low_memory = on
