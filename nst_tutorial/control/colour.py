"""Keep the photo's colours: the two methods of Gatys, Bethge, Hertzmann & Shechtman 2016
("Preserving Color in Neural Artistic Style Transfer", arXiv:1606.05897).

- Luminance-only transfer: solve on luminance alone, then put the photo's colour back. We work
  in YIQ, the space the paper uses: its Y is a fixed linear mix of R, G and B, so luminance and
  chroma separate and recombine exactly with one matrix each way, with no gamma or white point
  to choose (as Lab would need). The style's luminance is first matched to the photo's mean and
  standard deviation, so the painting's brightness does not leak in.
- Colour histogram matching: before the solve, map the painting's colours linearly so that
  their mean and covariance equal the photo's: x' = A (x - mu_s) + mu_c with A A^T-consistent
  square roots of the covariances, by Cholesky factors or by symmetric (eigenvalue) roots.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..style_losses import mean_cov, sqrtm

# RGB -> YIQ (NTSC 1953), as scikit-image's rgb2yiq; the inverse is its matrix inverse.
YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.59590059, -0.27455667, -0.32134392],
                    [0.21153661, -0.52273617, 0.31119955]])


def to_yiq(rgb: Tensor) -> Tensor:
    """(1, 3, H, W) RGB -> (1, 3, H, W) YIQ."""
    return torch.einsum("ij,bjhw->bihw", YIQ.to(rgb), rgb)


def from_yiq(yiq: Tensor) -> Tensor:
    """(1, 3, H, W) YIQ -> RGB (not clamped)."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(YIQ.double()).to(yiq), yiq)


def luminance(rgb: Tensor) -> Tensor:
    """Y of (1, 3, H, W) RGB: (1, 1, H, W)."""
    return to_yiq(rgb)[:, :1]


def grey(y: Tensor) -> Tensor:
    """A luminance (1, 1, H, W) as an RGB image with R = G = B = Y, for the network: (1, 3, H, W)."""
    return y.expand(-1, 3, -1, -1).clamp(0, 1)


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """The style's luminance, shifted and scaled to the content's mean and standard deviation: (1, 1, H, W)."""
    ys, yc = luminance(style), luminance(content)
    return (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()


def recolour(rgb: Tensor, content: Tensor) -> Tensor:
    """`rgb`'s luminance with `content`'s chroma (I, Q), as RGB in [0, 1]; same size (1, 3, H, W)."""
    return from_yiq(torch.cat([luminance(rgb), to_yiq(content)[:, 1:]], dim=1)).clamp(0, 1)


def colour_stats(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (3,) and covariance (3, 3) of the pixels of (1, 3, H, W), in float64."""
    return mean_cov(rgb[0].flatten(1).double().T)


def match_histogram(style: Tensor, content: Tensor, method: str = "eigen", clamp: bool = True) -> Tensor:
    """The style's colours mapped linearly to the content's mean and covariance: (1, 3, H, W).

    "cholesky": A = L_c L_s^-1 with the Cholesky factors L; "eigen": A = S_c^1/2 S_s^-1/2 with
    symmetric square roots (the paper's eigenvalue variant, as in Image Analogies). Either
    way the mapped colours have exactly the content's mean and covariance (before `clamp`).
    """
    (ms, cs), (mc, cc) = colour_stats(style), colour_stats(content)
    eye = 1e-8 * torch.eye(3, dtype=torch.float64)  # a flat-coloured image has a singular covariance
    if method == "cholesky":
        a = torch.linalg.cholesky(cc + eye) @ torch.linalg.inv(torch.linalg.cholesky(cs + eye))
    elif method == "eigen":
        a = sqrtm(cc + eye) @ torch.linalg.inv(sqrtm(cs + eye))
    else:
        raise ValueError(f"unknown colour matching {method!r}: use eigen or cholesky")
    x = style[0].flatten(1).double()
    mapped = (a @ (x - ms[:, None]) + mc[:, None]).reshape(style.shape).to(style.dtype)
    return mapped.clamp(0, 1) if clamp else mapped

