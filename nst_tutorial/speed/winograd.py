"""VGG's 3x3 convolutions on small maps through Winograd's F(4x4, 3x3), the kernels transformed once.

A direct 3x3 convolution spends 9 multiply-adds per output pixel and channel pair. Winograd's
minimal filtering (Lavin & Gray 2016) computes a 4x4 block of outputs from a 6x6 tile of
input: transform the tile (B^T d B) and the kernel (G g G^T), multiply them elementwise, and
transform back (A^T m A). Summed over the input channels, the elementwise products become 36
matrix products, one per tile position: 36 multiplies per 16 outputs instead of 144. NNPACK
does the same (and FFTs on large maps) but transforms every kernel on every call, which on
VGG's deep, small maps costs more than it saves; here the weights are frozen, so each kernel
is transformed once and kept (4x the weight's bytes). The rounding error is about 1e-5 of the
largest output in float32, as NNPACK's.

Every transform is written as one matrix product over all tiles and channels (`kron(B^T, B^T)`
on a flattened 6x6 tile), so all the work runs in PyTorch's matrix multiply.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

# F(4x4, 3x3) at the points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2016, section 4.2).
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))


@cache
def _transforms(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """(36, 36) input and (16, 36) output transforms of a flattened tile: kron(B^T, B^T), kron(A^T, A^T)."""
    bt, at = torch.tensor(_BT, dtype=torch.float64), torch.tensor(_AT, dtype=torch.float64)
    return torch.kron(bt, bt).to(dtype=dtype, device=device), torch.kron(at, at).to(dtype=dtype, device=device)


def kernel_transform(weight: Tensor) -> Tensor:
    """G g G^T of every kernel, one matrix product: (O, C, 3, 3) -> (36, O, C)."""
    g = torch.tensor(_G, dtype=torch.float64)
    o, c = weight.shape[:2]
    kg = torch.kron(g, g).to(dtype=weight.dtype, device=weight.device)  # (36, 9)
    return (kg @ weight.detach().reshape(o * c, 9).t()).view(36, o, c)


def winograd_conv3x3(x: Tensor, u: Tensor, bias: Tensor | None = None) -> Tensor:
    """3x3 convolution, padding 1, of x (B, C, H, W) with transformed kernels u (36, O, C): (B, O, H, W)."""
    kb, ka = _transforms(x.dtype, x.device)
    b, c, h, w = x.shape
    th, tw = -(-h // 4), -(-w // 4)
    tiles = F.pad(x, (1, 4 * tw + 1 - w, 1, 4 * th + 1 - h)).unfold(2, 6, 4).unfold(3, 6, 4)  # (B, C, th, tw, 6, 6)
    d = tiles.permute(0, 2, 3, 1, 4, 5).reshape(-1, 36)  # a row per tile and channel
    m = torch.bmm((kb @ d.t()).view(36, b * th * tw, c), u.transpose(1, 2))  # (36, tiles, O): channels mixed
    o = u.shape[1]
    y = (ka @ m.view(36, -1)).view(4, 4, b, th, tw, o).permute(2, 5, 3, 0, 4, 1).reshape(b, o, 4 * th, 4 * tw)
    y = y[..., :h, :w].contiguous()
    return y if bias is None else y.add_(bias.view(1, -1, 1, 1))


def winograd_conv3x3_input_grad(grad: Tensor, u: Tensor) -> Tensor:
    """The gradient of `winograd_conv3x3` for its input: grad (B, O, H, W) -> (B, C, H, W).

    The forward's transforms transposed, on the same `u`: no second, flipped set of kernels.
    Neighbouring 6x6 tiles overlap by two rows and columns, so their gradients are added there.
    """
    kb, ka = _transforms(grad.dtype, grad.device)
    b, o, h, w = grad.shape
    c = u.shape[2]
    th, tw = -(-h // 4), -(-w // 4)
    g = F.pad(grad, (0, 4 * tw - w, 0, 4 * th - h)).view(b, o, th, 4, tw, 4).permute(3, 5, 0, 2, 4, 1)
    dm = (ka.t() @ g.reshape(16, -1)).view(36, b * th * tw, o)
    dv = torch.bmm(dm, u)  # (36, tiles, C)
    t = (dv.view(36, -1).t() @ kb).view(b, th, tw, c, 6, 6).permute(0, 3, 1, 4, 2, 5)  # (B, C, th, 6, tw, 6)
    blocks = t.new_zeros(b, c, th + 1, 4, tw + 1, 4)  # the padded input in 4x4 blocks
    blocks[:, :, :th, :, :tw, :] = t[:, :, :, :4, :, :4]
    blocks[:, :, 1:, :2, :tw, :] += t[:, :, :, 4:, :, :4]  # a tile's last two rows: the next block's first two
    blocks[:, :, :th, :, 1:, :2] += t[:, :, :, :4, :, 4:]
    blocks[:, :, 1:, :2, 1:, :2] += t[:, :, :, 4:, :, 4:]
    return blocks.view(b, c, 4 * th + 4, 4 * tw + 4)[..., 1:h + 1, 1:w + 1].contiguous()


class WinogradConv3x3(torch.autograd.Function):
    """`winograd_conv3x3` with frozen kernels: gradient for the input only; nothing saved but `u`."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, u: Tensor, bias: Tensor | None) -> Tensor:
        ctx.u = u  # the module's cached kernels, not a tensor of this pass
        return winograd_conv3x3(x.contiguous(), u, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return winograd_conv3x3_input_grad(grad.contiguous(), ctx.u), None, None
