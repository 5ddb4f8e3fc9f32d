"""VGG's 3x3 convolutions in bfloat16 on CPUs that compute it well: about twice as fast as NNPACK.

bfloat16 keeps float32's exponent and 8 of its 24 mantissa bits. oneDNN multiplies in it and
sums in float32, then rounds each output to bfloat16: a relative error of up to 2^-9 (0.2%)
per layer, in the losses and in the image's gradient alike. Only the convolutions run in it:
the ReLUs, pools, Gram matrices, losses and L-BFGS stay in float32, and the maps go channels
last, the layout oneDNN's bfloat16 kernels are fastest in.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor


@cache
def bf16_ready() -> bool:
    """True if oneDNN has bfloat16 kernels for this CPU (PyTorch's own check: AVX-512 or Arm's
    bfloat16 instructions); False, never an error, where the check is missing."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(torch.backends.mkldnn.is_available() and check is not None and check())
    except RuntimeError:
        return False


def bf16_weight(weight: Tensor) -> Tensor:
    """(O, C, 3, 3) float32 -> bfloat16, channels last, detached: made once per weight."""
    return weight.detach().to(dtype=torch.bfloat16, memory_format=torch.channels_last)


def bf16_conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """3x3 convolution, padding 1, of float32 x (B, C, H, W) with `bf16_weight`s: float32 (B, O, H, W),
    channels last. Autograd carries the input's gradient back through the casts."""
    y = F.conv2d(x.to(dtype=torch.bfloat16, memory_format=torch.channels_last), weight,
                 None if bias is None else bias.to(torch.bfloat16), padding=1)
    return y.float()
