"""Style as distribution alignment (Li et al. 2017, "Demystifying Neural Style Transfer").

Matching Gram matrices is minimising the squared Maximum Mean Discrepancy (MMD) between the
feature vectors of two images with the kernel k(x, y) = (x^T y)^2. Other kernels give other
style losses; each is a statistic of the features matched with a mean squared error, except
the Gaussian kernel, whose MMD is computed directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

STYLE_LOSSES = ("gram", "linear", "bn", "gaussian", "sliced_wasserstein", "histogram", "w2")
SAMPLE_LOSSES = ("gaussian", "sliced_wasserstein", "histogram", "w2")  # these compare feature vectors, not a statistic
# Style weights that give each loss about the same starting style loss as the Gram default
# (measured from a noise image at 128 px on the bundled images); the scales differ by 10^6.
STYLE_WEIGHTS = {"gram": 50.0, "linear": 250.0, "bn": 450.0, "gaussian": 1.5e8, "sliced_wasserstein": 250.0,
                 "histogram": 200.0, "w2": 160.0}
GAUSSIAN_SAMPLES = 1024  # feature vectors per image the Gaussian MMD compares (cost grows with its square)

Kernel = Callable[[Tensor, Tensor], Tensor]


def gram(features: Tensor) -> Tensor:
    """Gram matrix of a feature map, normalised by its size: (B, C, H, W) -> (B, C, C).

    G[c, d] = sum_p F[c, p] F[d, p] / (C * H * W), as in Johnson's neural-style. Dividing by
    H * W keeps values comparable across image sizes; by C, across layers. Up to the factor
    C^2, ||G_x - G_s||^2 is the squared MMD of Li et al. (2017) with kernel k(x, y) = (x^T y)^2.
    """
    b, c, h, w = features.shape
    return _Gram.apply(features.reshape(b, c, h * w)) / (c * h * w)


def caffe_gram(features: Tensor, alpha: float) -> Tensor:
    """MyCaffe's GRAM layer with `disable_scaling_on_gradient`: (B, C, H, W) -> (B, C, C).

    Forward: G = alpha F F^T, no division by the map's size. Backward: (dG + dG^T) F, *without*
    the factor alpha, exactly as MyCaffe's GramLayer.backward skips it; so the gradient this
    returns is 1 / alpha times the derivative of the forward value.
    """
    b, c, h, w = features.shape
    return _CaffeGram.apply(features.reshape(b, c, h * w), alpha)


class _CaffeGram(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, alpha: float) -> Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2)).mul_(alpha)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), f), None


class _Gram(torch.autograd.Function):
    """F F^T for (B, C, N) with a one-multiply backward, (dG + dG^T) F.

    Autograd would differentiate both operands of bmm(F, F^T) separately: two (C x C) x (C x N)
    products and a sum of (C, N) tensors. The Gram is symmetric, so one product does it.
    """

    @staticmethod
    def forward(ctx: Any, f: Tensor) -> Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), f)


def feature_vectors(features: Tensor) -> Tensor:
    """(1, C, H, W) feature map -> (H*W, C): one C-dimensional sample per position."""
    return features[0].flatten(1).T


def shuffle_positions(features: Tensor, seed: int = 0) -> Tensor:
    """The same (1, C, H, W) feature vectors at randomly permuted positions: same Gram, no layout."""
    b, c, h, w = features.shape
    order = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(features.device)
    return features.flatten(2)[..., order].reshape(b, c, h, w)


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


def subsample(vectors: Tensor, n: int = GAUSSIAN_SAMPLES) -> Tensor:
    """At most `n` rows of (M, C), evenly strided so the same image always gives the same rows."""
    step = max(1, -(-vectors.shape[0] // n))
    return vectors[::step][:n]


def median_sigma2(vectors: Tensor) -> Tensor:
    """Bandwidth sigma^2: the mean squared pairwise distance of the style samples, a common heuristic."""
    return torch.cdist(vectors, vectors).pow(2).mean().clamp_min(1e-8)


def style_statistic(features: Tensor, kind: str, gram_scale: float | None = None) -> Tensor:
    """What a style loss matches, from a (1, C, H, W) feature map.

    gram: (1, C, C) Gram matrix (`caffe_gram` with alpha `gram_scale` when given); linear: (1, C)
    channel means; bn: (1, 2C) channel means and standard deviations (batch-norm statistics);
    gaussian: (1, K, C) sampled feature vectors; sliced_wasserstein, histogram, w2: (1, H*W, C)
    all feature vectors (see `distribution_losses`).
    """
    if kind == "gram":
        return gram(features) if gram_scale is None else caffe_gram(features, gram_scale)
    flat = features.flatten(2)
    if kind == "linear":
        return flat.mean(dim=2)
    if kind == "bn":
        return torch.cat([flat.mean(dim=2), flat.std(dim=2, unbiased=False)], dim=1)
    if kind == "gaussian":
        return subsample(feature_vectors(features)).unsqueeze(0)
    if kind in SAMPLE_LOSSES:
        return feature_vectors(features).unsqueeze(0)
    raise ValueError(f"unknown style loss {kind!r}; choose from {', '.join(STYLE_LOSSES)}")
