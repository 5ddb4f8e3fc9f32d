"""Pictures of a clip: the optical flow, the reliable-flow mask, frames side by side, and how much
each frame changes from the last."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from torch import Tensor

from .figures import as_array, figure_of, new_axes, new_figure


def flow_colours(flow: Tensor, top: float | None = None) -> np.ndarray:
    """A flow (1, 2, H, W) as colours (H, W, 3): the hue is the direction, the brightness the
    length, up to `top` pixels (default: the longest)."""
    x, y = flow[0, 0].cpu().numpy(), flow[0, 1].cpu().numpy()
    length = np.hypot(x, y)
    top = top or max(float(length.max()), 1e-6)
    hue = (np.arctan2(y, x) / (2 * np.pi)) % 1.0
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.clip(length / top, 0, 1)], axis=-1))


def show_flow(flow: Tensor, image: Tensor | None = None, step: int = 16, ax: Axes | None = None) -> Figure:
    """The flow as colours, with an arrow every `step` pixels pointing to where each point came
    from (over `image`, faded, if given)."""
    ax = ax or new_axes(1, 4.0, 4.0)[1][0]
    if image is not None:
        ax.imshow(as_array(image), alpha=0.35)
    ax.imshow(flow_colours(flow), alpha=0.65 if image is not None else 1.0)
    h, w = flow.shape[-2:]
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    u, v = flow[0, 0].cpu().numpy()[ys, xs], flow[0, 1].cpu().numpy()[ys, xs]
    ax.quiver(xs, ys, u, v, color="white", angles="xy", scale_units="xy", scale=1, width=0.004)
    ax.set_title("flow back to the last frame")
    ax.axis("off")
    return figure_of(ax)


def show_mask(mask: Tensor, image: Tensor, ax: Axes | None = None) -> Figure:
    """`image` with the pixels the mask (1, 1, H, W) rejects in red: there the flow is not trusted."""
    ax = ax or new_axes(1, 4.0, 4.0)[1][0]
    picture = as_array(image).astype(float)
    rejected = mask[0, 0].cpu().numpy() < 0.5
    picture[rejected] = 0.4 * picture[rejected] + 0.6 * np.array([1.0, 0.0, 0.0])
    ax.imshow(picture)
    ax.set_title(f"not trusted: {rejected.mean():.1%} of pixels")
    ax.axis("off")
    return figure_of(ax)


def show_clip(rows: Mapping[str, Sequence[Tensor]], every: int = 1) -> Figure:
    """Clips one above the other, every `every`-th frame in a row, each row named on its left."""
    frames = {name: list(clip)[::every] for name, clip in rows.items()}
    count = max(len(f) for f in frames.values())
    figure = new_figure(2.2 * count, 2.2 * len(frames))
    axes = figure.subplots(len(frames), count, squeeze=False)
    for row, (name, clip) in zip(axes, frames.items()):
        for i, ax in enumerate(row):
            ax.axis("off")
            if i < len(clip):
                ax.imshow(as_array(clip[i]))
                ax.set_title(f"frame {i * every + 1}", fontsize=8)
        row[0].text(-0.08, 0.5, name, transform=row[0].transAxes, rotation=90, ha="right", va="center")
    return figure


def plot_frame_change(series: Mapping[str, Sequence[float]], ax: Axes | None = None) -> Figure:
    """Each clip's warping error per frame (`video.steadiness.warping_errors`): how much each frame
    differs from the last one moved along the flow; 0 is steady, flicker is high."""
    ax = ax or new_axes(1, 5.0, 3.0)[1][0]
    for name, values in series.items():
        ax.plot(range(2, len(values) + 2), values, marker="o", label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("warping error (8-bit levels²)")
    ax.set_ylim(bottom=0)
    ax.legend()
    return figure_of(ax)
