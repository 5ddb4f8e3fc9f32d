"""The layers the seed adds to VGG19: EVENT gates, SCALARs and Euclidean losses, as pass-through modules."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .distribution_losses import gaussian_fit, gaussian_w2, histogram_loss, random_directions, sliced_wasserstein, sqrtm
from .style_losses import SAMPLE_LOSSES, gaussian_kernel, median_sigma2, mmd2, style_statistic


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
    """Squared distance of two same-shaped tensors (B, ...).

    "mean": the mean of the squared differences (`F.mse_loss`). "caffe": Caffe's
    EUCLIDEAN_LOSS, the sum of squared differences over 2 N, N the batch size (here 1).
    """
    if form == "caffe":
        return (x - target).pow(2).sum() / (2 * x.shape[0])
    return F.mse_loss(x, target)


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
    """Style branch: GRAM layer, EVENT gate, then Euclidean loss against the saved Gram (1, C, C).

    `gram_scale` switches to MyCaffe's GRAM (see `style_losses.caffe_gram`). `kind` swaps the
    Gram matrix for another statistic of Li et al. (2017): "linear" (channel means), "bn"
    (means and standard deviations); or compares feature vectors (1, N, C) directly, with no
    EVENT gate: "gaussian" (MMD with a Gaussian kernel whose bandwidth is fixed from the style
    samples), "sliced_wasserstein" (directions drawn anew at each evaluation from `seed`),
    "histogram" or "w2" (see `distribution_losses`).
    """

    sigma2: Tensor | None
    style_mean: Tensor | None
    style_cov_sqrt: Tensor | None

    def __init__(self, target: Tensor, weight: float, gate: bool = True, kind: str = "gram", form: str = "mean",
                 gram_scale: float | None = None, seed: int = 0) -> None:
        samples = kind in SAMPLE_LOSSES
        if kind == "histogram":
            target = target.sort(dim=1).values  # sorted once, per channel
        super().__init__(target, weight, gate=gate and not samples, form=form)
        self.kind, self.gram_scale = kind, gram_scale
        self.register_buffer("sigma2", median_sigma2(self.target[0]) if kind == "gaussian" else None)
        mean, cov = gaussian_fit(self.target[0]) if kind == "w2" else (None, None)
        self.register_buffer("style_mean", mean)
        self.register_buffer("style_cov_sqrt", None if cov is None else sqrtm(cov))
        self.generator = torch.Generator().manual_seed(seed)

    def feature(self, x: Tensor) -> Tensor:
        return style_statistic(x, self.kind, self.gram_scale)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind not in SAMPLE_LOSSES:
            return super().forward(x)
        self.loss = self.weight * self.distance(self.feature(x)[0])
        return x

    def distance(self, samples: Tensor) -> Tensor:
        """How far the image's feature vectors (N, C) lie from the style's, by `self.kind`."""
        if self.sigma2 is not None:
            return mmd2(samples, self.target[0], gaussian_kernel(self.sigma2))
        if self.kind == "sliced_wasserstein":
            c = samples.shape[1]
            return sliced_wasserstein(samples, self.target[0], random_directions(c, c, self.generator, samples.device))
        if self.kind == "histogram":
            return histogram_loss(samples, self.target[0])
        assert self.style_mean is not None and self.style_cov_sqrt is not None
        mean, cov = gaussian_fit(samples)
        return gaussian_w2(mean, cov, self.style_mean, self.style_cov_sqrt) / samples.shape[1]


def total_variation(image: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels of (B, C, H, W), summed over both axes."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., 1:] - image[..., :-1]).abs().mean()
