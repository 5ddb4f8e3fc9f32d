"""The layers the seed adds to VGG19: EVENT gates and Euclidean losses, as pass-through modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .style_losses import gaussian_kernel, median_sigma2, mmd2, style_statistic


class _EventGate(torch.autograd.Function):
    """MyCaffe's EVENT layer: identity forward; backward multiplies the gradient by a 0/1 mask."""

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        ctx.save_for_backward(mask)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def event_gate(x: Tensor, target: Tensor) -> Tensor:
    """Pass `x` through; on the backward pass zero the gradient wherever `target == 0`.

    This is the seed's |sign(target)| rule: only positions whose saved target is non-zero
    send a gradient back into the network.
    """
    return _EventGate.apply(x, event_mask(target))


def event_mask(target: Tensor) -> Tensor:
    """|sign(target)|: 1 where the target is non-zero, else 0; same shape as `target`."""
    return target.sign().abs()


class _TargetLoss(nn.Module):
    """Pass-through module that records `weight * mse(feature(x), target)` in `self.loss`."""

    def __init__(self, target: Tensor, weight: float, gate: bool = True) -> None:
        super().__init__()
        self.register_buffer("target", target.detach().clone())
        # Precomputing the mask keeps the backward pass to one multiply.
        self.register_buffer("mask", event_mask(self.target) if gate else None)
        self.weight = float(weight)
        self.loss: Tensor = torch.zeros(())

    def feature(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        y = self.feature(x)
        if self.mask is not None:
            y = _EventGate.apply(y, self.mask)
        self.loss = self.weight * F.mse_loss(y, self.target)
        return x


class ContentLoss(_TargetLoss):
    """Content branch: Euclidean loss between features (1, C, H, W) and the saved content target."""


class StyleLoss(_TargetLoss):
    """Style branch: GRAM layer, EVENT gate, then Euclidean loss against the saved Gram (1, C, C).

    `kind` swaps the Gram matrix for another statistic of Li et al. (2017): "linear" (channel
    means), "bn" (means and standard deviations) or "gaussian" (MMD with a Gaussian kernel,
    whose bandwidth is fixed from the style samples; it has no EVENT gate).
    """

    def __init__(self, target: Tensor, weight: float, gate: bool = True, kind: str = "gram") -> None:
        super().__init__(target, weight, gate=gate and kind != "gaussian")
        self.kind = kind
        self.register_buffer("sigma2", median_sigma2(self.target[0]) if kind == "gaussian" else None)

    def feature(self, x: Tensor) -> Tensor:
        return style_statistic(x, self.kind)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind != "gaussian":
            return super().forward(x)
        self.loss = self.weight * mmd2(self.feature(x)[0], self.target[0], gaussian_kernel(self.sigma2))
        return x


def total_variation(image: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels of (B, C, H, W), summed over both axes."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., 1:] - image[..., :-1]).abs().mean()
