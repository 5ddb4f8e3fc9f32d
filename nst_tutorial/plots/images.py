"""Pictures: images side by side, feature maps, differences, the stages of a solve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ..solve import SolveResult
from .figures import as_array, figure_of, new_axes

def show_images(images: Mapping[str, Tensor], axes: Sequence[Axes] | None = None) -> Figure:
    """Images side by side with their names as titles: `show_images({"content": c, "style": s})`."""
    if axes is None:
        _, axes = new_axes(len(images), 3.5, 3.5)
    for ax, (title, image) in zip(axes, images.items()):
        ax.imshow(as_array(image))
        ax.set_title(title)
        ax.axis("off")
    return figure_of(axes[0])


def show_feature_maps(features: Tensor, channels: Sequence[int] = (0, 1, 2, 3),
                      axes: Sequence[Axes] | None = None) -> Figure:
    """Channels of a (1, C, H, W) feature map as greyscale images, one panel each."""
    if axes is None:
        _, axes = new_axes(len(channels), 2.6, 2.6)
    for ax, c in zip(axes, channels):
        ax.imshow(features[0, c].detach().cpu().numpy(), cmap="gray")
        ax.set_title(f"channel {c}")
        ax.axis("off")
    return figure_of(axes[0])


def show_stages(result: SolveResult, axes: Sequence[Axes] | None = None) -> Figure:
    """The image as each stage of a solve left it, each at its own size."""
    return show_images({f"stage {i + 1}: {s.label}, {s.iterations} it": s.image
                        for i, s in enumerate(result.stages) if s.image is not None}, axes=axes)


def show_difference(a: Tensor, b: Tensor, gain: float = 8.0, ax: Axes | None = None) -> Figure:
    """|a - b| of two RGB images (1, 3, H, W), averaged over channels and magnified `gain` times."""
    if ax is None:
        _, (ax,) = new_axes(1, 3.5, 3.5)
    diff = (a - b).abs().mean(dim=1)[0].detach().cpu()
    ax.imshow((diff * gain).clamp(0, 1).numpy(), cmap="magma", vmin=0, vmax=1)
    ax.set_title(f"|difference| x {gain:g}\nmean {diff.mean().item() * 255:.1f} of 255")
    ax.axis("off")
    return figure_of(ax)


