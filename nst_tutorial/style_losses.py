"""What "style" means to the loss: the Gram matrix, and the other statistics and distances that
compare the distribution of feature vectors (Li et al. 2017, "Demystifying Neural Style Transfer").

Matching Gram matrices is minimising the squared Maximum Mean Discrepancy (MMD) between the
feature vectors of two images with the kernel k(x, y) = (x^T y)^2. Other kernels and other
distances give other style losses. Each kind is one entry of `KINDS`: the statistic it takes
from a feature map, how it compares two of them, and a default weight. `register` adds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .images import resize

GAUSSIAN_SAMPLES = 1024  # feature vectors per image the Gaussian MMD compares (cost grows with its square)

Kernel = Callable[[Tensor, Tensor], Tensor]


def gram(features: Tensor, scale: float | None = None, masks: Tensor | None = None) -> Tensor:
    """Gram matrix of a feature map: (B, C, H, W) -> (B, C, C), or (S, C, C) with `masks`.

    Default: G = F F^T / (C H W), as in Johnson's neural-style; dividing by H W keeps values
    comparable across image sizes, by C across layers. Up to the factor C^2, ||G_x - G_s||^2
    is the squared MMD of Li et al. with k(x, y) = (x^T y)^2.

    `scale` a: MyCaffe's GRAM layer with `disable_scaling_on_gradient`, G = a F F^T with no
    division, whose backward pass leaves a out (the gradient is 1/a times the derivative of
    the value). `masks` (S, 1, H', W'), one region each (Gatys et al. 2017): the features are
    weighted by each mask, brought to the map's size by area averaging (what pooling does to
    the features), and normalised by the region's area instead of H W.
    """
    b, c, h, w = features.shape
    if masks is not None:
        m = resize(masks, (h, w), mode="area")
        area = m.flatten(1).sum(dim=1).clamp_min(1e-8)
        return _Gram.apply((features * m).reshape(m.shape[0], c, h * w), 1.0) / (c * area)[:, None, None]
    if scale is not None:
        return _Gram.apply(features.reshape(b, c, h * w), scale, False)
    return _Gram.apply(features.reshape(b, c, h * w), 1.0) / (c * h * w)


class _Gram(torch.autograd.Function):
    """alpha F F^T for (B, C, N) with a one-multiply backward, (dG + dG^T) F (times alpha unless
    `scaled_gradient` is False, as MyCaffe's GRAM). Autograd would differentiate both operands
    of bmm(F, F^T) apart: two products and a sum; the Gram is symmetric, so one does it."""

    @staticmethod
    def forward(ctx: Any, f: Tensor, alpha: float, scaled_gradient: bool = True) -> Tensor:
        ctx.save_for_backward(f)
        ctx.alpha = alpha if scaled_gradient else 1.0
        g = torch.bmm(f, f.transpose(1, 2))
        return g if alpha == 1.0 else g.mul_(alpha)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (f,) = ctx.saved_tensors
        out = torch.bmm(grad + grad.transpose(1, 2), f)
        return (out if ctx.alpha == 1.0 else out.mul_(ctx.alpha)), None, None


# --- the style losses, one entry each ---------------------------------------------------------


@dataclass(frozen=True)
class StyleKind:
    """One way to compare style. The default is Euclidean distance between statistics, behind
    the seed's EVENT gate; a kind with its own `distance` compares feature vectors directly."""

    statistic: Callable[[Tensor], Tensor]  # features (1, C, H, W) -> what is matched, batch first
    weight: float  # a style_weight that starts near the Gram default's loss (the scales differ by 10^6)
    distance: Callable[[Tensor, tuple[Tensor, ...], torch.Generator], Tensor] | None = None  # (image's, reference, rng)
    reference: Callable[[Tensor], tuple[Tensor, ...]] = lambda target: (target,)  # from the style's statistic, once
    pooled: bool = False  # several paintings: their samples are pooled, not their statistics averaged


KINDS: dict[str, StyleKind] = {}


def register(name: str, kind: StyleKind) -> StyleKind:
    """Add a style loss under `name` (Config.style_loss, --style-loss); returns it."""
    KINDS[name] = kind
    return kind


def style_kind(name: str) -> StyleKind:
    """The registered style loss called `name`; `KeyError` names the choices."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown style loss {name!r}; choose from {', '.join(KINDS)}") from None


def feature_vectors(features: Tensor) -> Tensor:
    """(1, C, H, W) feature map -> (H*W, C): one C-dimensional sample per position."""
    return features[0].flatten(1).T


def subsample(vectors: Tensor, n: int = GAUSSIAN_SAMPLES) -> Tensor:
    """At most `n` rows of (M, C), evenly strided so the same image always gives the same rows."""
    step = max(1, -(-vectors.shape[0] // n))
    return vectors[::step][:n]


def mean_cov(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (C,) and covariance (C, C) of samples x (N, C)."""
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def sqrtm(a: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (C, C), through its eigenvalues.

    In float64 and with a ridge of 1e-10 of the mean eigenvalue: the covariance of fewer
    feature vectors than channels (a deep layer of a small picture) is rank-deficient, and
    float32's eigensolver can fail to converge on it.
    """
    d = a.double()
    values, vectors = torch.linalg.eigh(d + _ridge(d) * torch.eye(len(d), dtype=d.dtype, device=d.device))
    return ((vectors * values.clamp_min(0).sqrt()) @ vectors.T).to(a.dtype)


def _ridge(a: Tensor) -> Tensor:
    """1e-10 of the mean of a square matrix's diagonal (its mean eigenvalue), never 0."""
    return 1e-10 * a.diagonal().mean().abs() + 1e-30


def random_directions(channels: int, count: int, generator: torch.Generator | None = None,
                      device: torch.device | None = None) -> Tensor:
    """`count` directions drawn uniformly on the unit sphere in `channels` dimensions: (count, channels)."""
    d = torch.randn(count, channels, generator=generator)
    return F.normalize(d, dim=1).to(device)


def resample_sorted(values: Tensor, n: int) -> Tensor:
    """Sorted columns (M, K) resampled to n quantiles by linear interpolation: (n, K), so sample
    sets of different sizes compare quantile by quantile."""
    if values.shape[0] == n:
        return values
    return F.interpolate(values.T.unsqueeze(1), size=n, mode="linear", align_corners=False)[:, 0].T


def sliced_wasserstein(x: Tensor, y: Tensor, directions: Tensor) -> Tensor:
    """Squared sliced Wasserstein-2 distance of samples x (N, C) and y (M, C) along unit `directions` (K, C)
    (Heitz et al., CVPR 2021): the 1-D optimal transport cost of the projections, which sorting solves."""
    px = (x @ directions.T).sort(dim=0).values
    py = resample_sorted((y @ directions.T).sort(dim=0).values, px.shape[0])
    return (px - py).pow(2).mean()


def histogram_loss(x: Tensor, sorted_style: Tensor) -> Tensor:
    """Risser et al.'s (2017) histogram loss: mean of (x - x remapped to the style's histogram)^2.

    `x` (N, C); `sorted_style` (M, C) the style's values sorted per channel. Each value of x is
    replaced by the style value of the same rank in its channel; that copy is a constant target.
    """
    with torch.no_grad():
        order = x.argsort(dim=0)
        matched = torch.empty_like(x).scatter_(0, order, resample_sorted(sorted_style, x.shape[0]))
    return (x - matched).pow(2).mean()


def gaussian_w2(mean_x: Tensor, cov_x: Tensor, mean_y: Tensor, cov_y_sqrt: Tensor) -> Tensor:
    """Squared Wasserstein-2 distance between N(mean_x, cov_x) and N(mean_y, cov_y), given sqrt(cov_y).

    W2^2 = |m_x - m_y|^2 + tr(S_x) + tr(S_y) - 2 tr((S_y^1/2 S_x S_y^1/2)^1/2). The last trace is
    the sum of square roots of eigenvalues (`eigvalsh`), whose gradient stays finite where
    eigenvalues repeat, as they do for channels that never fire; float64 and a tiny ridge keep
    the eigensolver converging on rank-deficient covariances (fewer positions than channels).
    """
    inner = (cov_y_sqrt @ cov_x @ cov_y_sqrt).double()  # float64: see `sqrtm`
    eye = torch.eye(len(inner), dtype=inner.dtype, device=inner.device)
    root_trace = torch.linalg.eigvalsh(inner + _ridge(inner) * eye).clamp_min(_ridge(inner)).sqrt().sum()
    w2 = (mean_x - mean_y).pow(2).sum() + cov_x.trace() + (cov_y_sqrt @ cov_y_sqrt).trace() - 2 * root_trace
    return w2.to(cov_x.dtype)


def poly2_kernel(a: Tensor, b: Tensor) -> Tensor:
    """k(x, y) = (x^T y)^2 for all pairs: (N, C), (M, C) -> (N, M). Gram matching uses this one."""
    return (a @ b.T) ** 2


def linear_kernel(a: Tensor, b: Tensor) -> Tensor:
    """k(x, y) = x^T y; its MMD is the squared distance between mean feature vectors."""
    return a @ b.T


def gaussian_kernel(sigma2: float | Tensor) -> Kernel:
    """k(x, y) = exp(-||x - y||^2 / (2 sigma^2))."""
    return lambda a, b: torch.exp(-torch.cdist(a, b).pow(2) / (2 * sigma2))


def mmd2(x: Tensor, y: Tensor, kernel: Kernel) -> Tensor:
    """Biased squared MMD of samples x (N, C) and y (M, C): E k(x,x') + E k(y,y') - 2 E k(x,y)."""
    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


def median_sigma2(vectors: Tensor) -> Tensor:
    """Bandwidth sigma^2: the mean squared pairwise distance of the style samples, a common heuristic."""
    return torch.cdist(vectors, vectors).pow(2).mean().clamp_min(1e-8)


def shuffle_positions(features: Tensor, seed: int = 0) -> Tensor:
    """The same (1, C, H, W) feature vectors at randomly permuted positions: same Gram, no layout."""
    b, c, h, w = features.shape
    order = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(features.device)
    return features.flatten(2)[..., order].reshape(b, c, h, w)


def _samples(features: Tensor) -> Tensor:
    return feature_vectors(features).unsqueeze(0)


def _w2_reference(target: Tensor) -> tuple[Tensor, ...]:
    mean, cov = mean_cov(target[0])
    return mean, sqrtm(cov)


def _w2(x: Tensor, ref: tuple[Tensor, ...], _: torch.Generator) -> Tensor:
    mean, cov = mean_cov(x[0])
    return gaussian_w2(mean, cov, *ref) / x.shape[2]


def _sliced(x: Tensor, ref: tuple[Tensor, ...], generator: torch.Generator) -> Tensor:
    c = x.shape[2]
    return sliced_wasserstein(x[0], ref[0][0], random_directions(c, c, generator, x.device))


register("gram", StyleKind(gram, weight=50.0))
register("linear", StyleKind(lambda f: f.flatten(2).mean(dim=2), weight=250.0))  # channel means
register("bn", StyleKind(lambda f: torch.cat([f.flatten(2).mean(dim=2), f.flatten(2).std(dim=2, unbiased=False)],
                                             dim=1), weight=450.0))  # batch-norm statistics
register("gaussian", StyleKind(  # MMD with a Gaussian kernel, bandwidth fixed from the style's samples
    lambda f: subsample(feature_vectors(f)).unsqueeze(0), weight=1.5e8, pooled=True,
    reference=lambda t: (t, median_sigma2(t[0])),
    distance=lambda x, ref, _: mmd2(x[0], ref[0][0], gaussian_kernel(ref[1]))))
register("sliced_wasserstein", StyleKind(_samples, weight=250.0, pooled=True, distance=_sliced))
register("histogram", StyleKind(_samples, weight=200.0, pooled=True, reference=lambda t: (t[0].sort(dim=0).values,),
                                distance=lambda x, ref, _: histogram_loss(x[0], ref[0])))
register("w2", StyleKind(_samples, weight=160.0, pooled=True, reference=_w2_reference, distance=_w2))
