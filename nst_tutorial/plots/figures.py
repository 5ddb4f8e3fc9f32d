"""Figures that Jupyter shows once, and the conversions every plot needs."""

from __future__ import annotations

from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

def new_figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A figure that Jupyter shows once: as the value a helper returns.

    Made with pyplot's interactive mode off and then closed, so the inline backend does not
    show it a second time at the end of the cell; the returned figure still displays.
    """
    with plt.ioff():
        fig = plt.figure(figsize=(width, height), **kwargs)
    plt.close(fig)
    return fig


def figure_of(ax: Axes) -> Figure:
    """The top-level figure an axes is drawn on."""
    return cast(Figure, ax.get_figure(root=True))


def new_axes(ncols: int = 1, width: float = 4.0, height: float = 4.0) -> tuple[Figure, list[Axes]]:
    """A `new_figure` with `ncols` axes side by side, each `width` x `height` inches."""
    fig = new_figure(width * ncols, height)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def as_array(image: Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) RGB tensor in [0, 1] -> (H, W, 3) array for imshow."""
    return image.detach().float().cpu().reshape(-1, *image.shape[-2:]).permute(1, 2, 0).clamp(0, 1).numpy()


