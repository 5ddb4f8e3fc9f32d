"""Style losses after Gatys: compare the distributions of feature vectors themselves.

Each treats a layer's feature map (1, C, H, W) as H*W samples in C dimensions, as the MMD view
of Li et al. does, and measures how far the image's samples lie from the style's:

- sliced Wasserstein (Heitz et al., CVPR 2021, arXiv:2006.07229): project both sample sets
  on random unit directions, sort, and compare the sorted values; the directions are drawn
  anew at every evaluation;
- histogram (Risser, Wilmot & Barnes 2017, arXiv:1701.08893): match each channel's values to
  the style's by rank, and pull the image towards that remapped copy;
- Wasserstein-2 between Gaussians (as crowsonkb/style-transfer-pytorch's `StyleLossW2`): fit
  a mean and a covariance to each sample set and take the closed-form distance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_directions(channels: int, count: int, generator: torch.Generator | None = None,
                      device: torch.device | None = None) -> Tensor:
    """`count` directions drawn uniformly on the unit sphere in `channels` dimensions: (count, channels)."""
    d = torch.randn(count, channels, generator=generator)
    return F.normalize(d, dim=1).to(device)


def resample_sorted(values: Tensor, n: int) -> Tensor:
    """Sorted columns (M, K) resampled to n quantiles by linear interpolation: (n, K).

    Lets sample sets of different sizes be compared quantile by quantile.
    """
    if values.shape[0] == n:
        return values
    return F.interpolate(values.T.unsqueeze(1), size=n, mode="linear", align_corners=False)[:, 0].T


def sliced_wasserstein(x: Tensor, y: Tensor, directions: Tensor) -> Tensor:
    """Squared sliced Wasserstein-2 distance of samples x (N, C) and y (M, C) along unit `directions` (K, C).

    SW^2 = mean over directions d and quantiles q of (F_x.d^-1(q) - F_y.d^-1(q))^2, the 1-D
    optimal transport cost of the projections, which sorting solves exactly.
    """
    px = (x @ directions.T).sort(dim=0).values
    py = resample_sorted((y @ directions.T).sort(dim=0).values, px.shape[0])
    return (px - py).pow(2).mean()


def histogram_loss(x: Tensor, sorted_style: Tensor) -> Tensor:
    """Risser et al.'s histogram loss: mean of (x - x remapped to the style's histogram)^2.

    `x` (N, C) samples, `sorted_style` (M, C) the style's values sorted per channel. Each value
    of x is replaced by the style value of the same rank in its channel; the remapped copy is
    a constant target, so the gradient pulls x towards it.
    """
    with torch.no_grad():
        order = x.argsort(dim=0)
        matched = torch.empty_like(x).scatter_(0, order, resample_sorted(sorted_style, x.shape[0]))
    return (x - matched).pow(2).mean()


def gaussian_fit(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (C,) and covariance (C, C) of samples x (N, C)."""
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def sqrtm(a: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (C, C), through its eigenvalues."""
    values, vectors = torch.linalg.eigh(a)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def gaussian_w2(mean_x: Tensor, cov_x: Tensor, mean_y: Tensor, cov_y_sqrt: Tensor) -> Tensor:
    """Squared Wasserstein-2 distance between N(mean_x, cov_x) and N(mean_y, cov_y), given sqrt(cov_y).

    W2^2 = |m_x - m_y|^2 + tr(S_x) + tr(S_y) - 2 tr((S_y^1/2 S_x S_y^1/2)^1/2). The last trace is
    the sum of square roots of eigenvalues (`eigvalsh`), whose gradient stays finite where
    eigenvalues repeat, as they do for channels that never fire.
    """
    inner = cov_y_sqrt @ cov_x @ cov_y_sqrt
    eps = 1e-12 * inner.diagonal().mean().abs() + 1e-30
    root_trace = torch.linalg.eigvalsh(inner).clamp_min(eps).sqrt().sum()
    return (mean_x - mean_y).pow(2).sum() + cov_x.trace() + (cov_y_sqrt @ cov_y_sqrt).trace() - 2 * root_trace
