"""The layers the seed adds to VGG19: EVENT gates, SCALARs and Euclidean losses, as pass-through modules."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .style_losses import gram, style_kind


class _EventGate(torch.autograd.Function):
    """MyCaffe's EVENT layer: identity forward; backward multiplies the gradient by a 0/1 mask."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mask: Tensor) -> Tensor:
        ctx.save_for_backward(mask)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
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


class _PassthroughScale(torch.autograd.Function):
    """MyCaffe's SCALAR layer (MUL) with `passthrough_gradient`: y = s x forward, dx = dy backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:
        return x * scale

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def scalar(x: Tensor, scale: float) -> Tensor:
    """MyCaffe's SCALAR as the seed's content branch uses it: `scale * x`, gradient passed through unscaled."""
    return _PassthroughScale.apply(x, scale)


def euclidean(x: Tensor, target: Tensor, form: str = "mean") -> Tensor:
    """Squared distance of two same-shaped tensors (B, ...), summed over the B items (regions).

    "mean": the mean of each item's squared differences (`F.mse_loss`). "caffe": Caffe's
    EUCLIDEAN_LOSS of each item, its sum of squared differences over 2 (a batch of one).
    """
    if form == "caffe":
        return (x - target).pow(2).sum() / 2
    if len(x) == 1:
        return F.mse_loss(x, target)
    return torch.stack([F.mse_loss(a, b) for a, b in zip(x, target)]).sum()


class _TargetLoss(nn.Module):
    """Pass-through module that records `weight * euclidean(feature(x), target)` in `self.loss`."""

    target: Tensor
    mask: Tensor | None

    def __init__(self, target: Tensor, weight: float, gate: bool = True, form: str = "mean") -> None:
        super().__init__()
        self.register_buffer("target", target.detach().clone())
        # Precomputing the mask keeps the backward pass to one multiply.
        self.register_buffer("mask", event_mask(self.target) if gate else None)
        self.weight, self.form = float(weight), form
        self.loss: Tensor = torch.zeros(())

    def feature(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        y = self.feature(x)
        if self.mask is not None:
            y = _EventGate.apply(y, self.mask)
        self.loss = self.weight * euclidean(y, self.target, self.form)
        return x


class ContentLoss(_TargetLoss):
    """Content branch: [SCALAR], EVENT gate, Euclidean loss between features (1, C, H, W) and the target.

    With `scale` the features pass MyCaffe's SCALAR first (times `scale` forward, gradient
    passed through unscaled), and so does the saved `target`, as MyCaffe feeds its INPUT blob
    through a SCALAR of the same value.
    """

    def __init__(self, target: Tensor, weight: float, gate: bool = True, form: str = "mean",
                 scale: float | None = None) -> None:
        super().__init__(target if scale is None else target * scale, weight, gate=gate, form=form)
        self.scale = scale

    def feature(self, x: Tensor) -> Tensor:
        return x if self.scale is None else scalar(x, self.scale)


class StyleLoss(_TargetLoss):
    """Style branch: the statistic of `kind` (GRAM by default), EVENT gate, Euclidean loss
    against the saved statistic; or, for a kind with its own distance (the feature-vector
    losses of `style_losses`), that distance, with no gate.

    `gram_scale` (MyCaffe's GRAM) and `masks` (S, 1, H, W) with a target (S, C, C), one region
    per painting, are options of the Gram statistic (`style_losses.gram`). A kind that draws
    random numbers draws them from `seed`.
    """

    masks: Tensor | None

    def __init__(self, target: Tensor, weight: float, kind: str = "gram", gate: bool = True, form: str = "mean",
                 gram_scale: float | None = None, masks: Tensor | None = None, seed: int = 0) -> None:
        self.kind = style_kind(kind)
        distance = self.kind.distance is not None
        super().__init__(target, weight, gate=gate and not distance, form=form)
        self.gram_scale = gram_scale
        self.register_buffer("masks", masks)  # a buffer, so the regions follow the module to its device
        references = self.kind.reference(self.target) if distance else ()
        for i, t in enumerate(references):  # buffers, so they follow the module to its device
            self.register_buffer(f"reference{i}", t)
        self.references = len(references)
        self.generator = torch.Generator().manual_seed(seed)

    def feature(self, x: Tensor) -> Tensor:
        if self.gram_scale is None and self.masks is None:
            return self.kind.statistic(x)
        return gram(x, self.gram_scale, self.masks)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind.distance is None:
            return super().forward(x)
        reference = tuple(getattr(self, f"reference{i}") for i in range(self.references))
        self.loss = self.weight * self.kind.distance(self.feature(x), reference, self.generator)
        return x


def total_variation(image: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels of (B, C, H, W), summed over both axes."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., 1:] - image[..., :-1]).abs().mean()


class TemporalLoss(nn.Module):
    """Ruder et al. 2016's temporal loss for video: `weight` times the mean over pixels and
    channels (their 1/D) of `mask * (image - target)^2`, in 8-bit levels (0-255) squared.

    `target` (1, 3, H, W) is an earlier stylised frame warped to this frame by the optical flow;
    `mask` (1, 1, H, W) is 1 where that flow is reliable, 0 where it is not (disocclusions,
    motion boundaries), so there the frame is free to be repainted.
    """

    target: Tensor
    mask: Tensor

    def __init__(self, target: Tensor, mask: Tensor, weight: float) -> None:
        super().__init__()
        self.register_buffer("target", target.detach().clone())
        self.register_buffer("mask", mask.detach().clone())
        self.weight = float(weight)

    def forward(self, image: Tensor) -> Tensor:
        """The weighted loss of `image` (1, 3, H, W) in [0, 1]: a scalar."""
        return self.weight * 255**2 * (self.mask * (image - self.target).pow(2)).mean()
