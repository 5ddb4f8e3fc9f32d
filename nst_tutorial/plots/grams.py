"""Gram matrices as heatmaps: a painting's target, the current image's, and their difference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import SymLogNorm
from matplotlib.image import AxesImage
from torch import Tensor

from .figures import new_axes

def gram_heatmaps(target: Tensor, current: Tensor, channels: tuple[int, int] = (0, 64),
                  axes: Sequence[Axes] | None = None,
                  titles: tuple[str, str, str] = ("style target", "current image", "difference")) -> list[AxesImage]:
    """Three heatmaps of Gram matrices (1, C, C) cut to `channels`: `target`, `current`, and
    `current - target`, titled `titles`.

    The colours follow a symmetric log scale: a Gram matrix's few large entries (the diagonal,
    strong channels) would leave a linear scale almost all dark. The two Gram panels share one
    scale, so equal matrices look equal; the difference has its own, centred on 0.
    Returns the three `AxesImage`s so a widget can `set_data` them later.
    """
    if axes is None:
        _, axes = new_axes(3, 3.6, 3.2)
    images = []
    for ax, title in zip(axes, titles):
        images.append(ax.imshow(np.zeros((2, 2)), cmap="RdBu_r" if title == titles[2] else "viridis",
                                interpolation="nearest"))
        ax.set_title(title)
        ax.set(xlabel="channel", ylabel="channel")
        axes[0].figure.colorbar(images[-1], ax=ax, shrink=0.8)
    update_gram_heatmaps(images, target, current, channels)
    return images


def update_gram_heatmaps(images: Sequence[AxesImage], target: Tensor, current: Tensor,
                         channels: tuple[int, int]) -> None:
    """Point the three heatmaps at new Gram matrices or a new channel range; rescale colours."""
    lo, hi = channels
    t = target[0, lo:hi, lo:hi].detach().cpu().numpy()
    c = current[0, lo:hi, lo:hi].detach().cpu().numpy()
    vmax = float(max(np.abs(t).max(), np.abs(c).max(), 1e-12))
    dmax = float(max(np.abs(c - t).max(), 1e-12))
    low = min(float(t.min()), float(c.min()), 0.0)  # 0 after a ReLU; below 0 for raw convolutions
    for image, data, (top, bottom) in zip(images, (t, c, c - t), ((vmax, low), (vmax, low), (dmax, -dmax))):
        image.set_data(data)
        image.set_extent((lo - 0.5, hi - 0.5, hi - 0.5, lo - 0.5))
        image.set_norm(SymLogNorm(linthresh=top * 1e-3, vmin=bottom, vmax=top))


