"""Pictures of the method: images side by side, Gram heatmaps, loss curves, the augmented model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from torch import Tensor

from . import gate
from .augment import AugmentedModel
from .config import Config
from .metrics import Scores
from .solve import SolveResult, Stage
from .vgg import layer_names, tap


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


def gram_heatmaps(target: Tensor, current: Tensor, channels: tuple[int, int] = (0, 64),
                  axes: Sequence[Axes] | None = None,
                  titles: tuple[str, str, str] = ("style target", "current image", "difference")) -> list[AxesImage]:
    """Three heatmaps of Gram matrices (1, C, C) cut to `channels`: `target`, `current`, and
    `current - target`, titled `titles`.

    Returns the three `AxesImage`s so a widget can `set_data` them later.
    """
    if axes is None:
        _, axes = new_axes(3, 3.6, 3.2)
    images = []
    for ax, title in zip(axes, titles):
        images.append(ax.imshow(np.zeros((2, 2)), cmap="RdBu_r" if title == titles[2] else "viridis",
                                interpolation="nearest"))
        ax.set_title(title)
        ax.set_xlabel("channel")
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
    for image, data, limits in zip(images, (t, c, c - t), ((0, vmax), (0, vmax), (-dmax, dmax))):
        image.set_data(data)
        image.set_extent((lo - 0.5, hi - 0.5, hi - 0.5, lo - 0.5))
        image.set_clim(*limits)


def mark_stage(ax: Axes, iteration: int, label: str) -> _Group:
    """A dashed vertical line where a stage of a coarse-to-fine solve begins, labelled with its size."""
    line = ax.axvline(iteration - 0.5, color="0.5", ls="--", lw=0.8)
    text = ax.annotate(label, (iteration - 0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                       textcoords="offset points", fontsize="x-small", color="0.35")
    return _Group(line, text)


class _Group:
    """Two artists removed together (a stage's line and its label)."""

    def __init__(self, *artists: Artist) -> None:
        self.artists = artists

    def remove(self) -> None:
        for artist in self.artists:
            artist.remove()


def plot_losses(history: Mapping[str, Sequence[float]], iterations: Sequence[int] | None = None,
                ax: Axes | None = None, stages: Sequence[Stage] = ()) -> Figure:
    """Per-term loss curves on a log scale: one line per style layer, content, TV and total.

    `stages` (a `SolveResult.stages`) marks where each stage after the first begins.
    """
    if ax is None:
        _, (ax,) = new_axes(1, 6.0, 3.5)
    for name, values in history.items():
        xs = iterations if iterations is not None else range(1, len(values) + 1)
        ax.plot(xs, values, label=name, lw=2.5 if name == "total" else 1.2, color="k" if name == "total" else None)
    for stage in stages[1:]:
        mark_stage(ax, stage.start + 1, stage.label)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small", ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    return figure_of(ax)


def plot_result_losses(result: SolveResult, ax: Axes | None = None) -> Figure:
    """`plot_losses` of a `SolveResult`, its stages marked."""
    return plot_losses(result.history, result.iterations, ax=ax, stages=result.stages)


def show_stages(result: SolveResult, axes: Sequence[Axes] | None = None) -> Figure:
    """The image as each stage of a solve left it, each at its own size."""
    return show_images({f"stage {i + 1}: {s.label}, {s.iterations} it": s.image
                        for i, s in enumerate(result.stages) if s.image is not None}, axes=axes)


def plot_two_axes(scores: Mapping[str, Scores], ax: Axes | None = None, connect: bool = False) -> Figure:
    """Each picture as a point: held-out style distance across, content fidelity up (`metrics.Scores`).

    Up is more photo kept, left is more painting arrived: the best pictures lie top left.
    `connect` joins the points in order, drawing the trade-off curve of a sweep.
    """
    if ax is None:
        _, (ax,) = new_axes(1, 4.5, 3.6)
    xs = [s.style_sw for s in scores.values()]
    ys = [s.content_fidelity for s in scores.values()]
    ax.plot(xs, ys, "-o" if connect else "o", color="0.3", mfc="#f08c7a", ms=6, lw=0.8)
    for label, x, y in zip(scores, xs, ys):
        ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize="x-small")
    ax.set(xlabel="style distance, held out (SW; 1 = the photo's)", ylabel="content fidelity (1 = the photo)",
           title="judged by numbers no loss optimised")
    ax.grid(True, alpha=0.3)
    return figure_of(ax)


def show_difference(a: Tensor, b: Tensor, gain: float = 8.0, ax: Axes | None = None) -> Figure:
    """|a - b| of two RGB images (1, 3, H, W), averaged over channels and magnified `gain` times."""
    if ax is None:
        _, (ax,) = new_axes(1, 3.5, 3.5)
    diff = (a - b).abs().mean(dim=1)[0].detach().cpu()
    ax.imshow((diff * gain).clamp(0, 1).numpy(), cmap="magma", vmin=0, vmax=1)
    ax.set_title(f"|difference| x {gain:g}\nmean {diff.mean().item() * 255:.1f} of 255")
    ax.axis("off")
    return figure_of(ax)


def show_event_gate(model: AugmentedModel, gated: Tensor, ungated: Tensor, gain: float = 8.0,
                    axes: Sequence[Axes] | None = None) -> Figure:
    """What the EVENT gate did in one setting, in three panels: the share of gradient entries it
    zeroes at each loss layer, where it closes at the content layer, and the two results'
    difference, magnified. `gated` and `ungated` are the images solved with the gate on and off."""
    if axes is None:
        _, axes = new_axes(3, 3.8, 3.4)
    shares = gate.zero_shares(model)
    ax = axes[0]
    ax.barh(list(shares), [100 * v for v in shares.values()], color="#f08c7a")
    ax.invert_yaxis()
    ax.set(xlabel="% of gradient entries zeroed", xlim=(0, 100), title="what EVENT zeroes")
    for y, value in enumerate(shares.values()):
        ax.annotate(f"{100 * value:.1f}%", (100 * value, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize="x-small")
    content = next((name for name in shares if name.startswith("content/")), None)
    if content is not None:
        shown = axes[1].imshow(gate.closed_map(model, content).cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        figure_of(axes[1]).colorbar(shown, ax=axes[1], shrink=0.8, label="share of channels zeroed")
        axes[1].set_title(f"where it closes: {content}")
    axes[1].axis("off")
    show_difference(gated, ungated, gain, ax=axes[2])
    axes[2].set_title("gate on vs off, " + axes[2].get_title())
    return figure_of(axes[0])


_COLOURS = {"vgg": "#dde6f0", "PARAMETER": "#f6c85f", "GRAM": "#9fd5a6", "EVENT": "#f08c7a",
            "EUCLIDEAN_LOSS": "#c9a7e0", "INPUT": "#bfbfbf", "SCALAR": "#8ecae6"}


def draw_augmented_model(config: Config | None = None, ax: Axes | None = None) -> Figure:
    """Diagram of the augmented VGG19, like the seed's figure (plain matplotlib, no Graphviz).

    The main column runs from the PARAMETER layer `input1` down through VGG19 (ReLUs in place,
    as in Caffe). Each style layer branches right into GRAM -> EVENT -> EUCLIDEAN_LOSS with its
    INPUT target; the content layer into EVENT -> EUCLIDEAN_LOSS, with MyCaffe's SCALAR before
    the EVENT when `config.content_scale` is set (as in `Config.mycaffe()`). Loss boxes show
    their weight; the EVENT boxes are drawn only with `config.event_gate`.
    """
    config = config or Config()
    taps = [tap(n, config.relu_in_place) for n in (*config.style_layers, *config.content_layers)]
    deepest = max(layer_names().index(t) for t in taps)
    column = ["input1"] + [n for n in layer_names()[: deepest + 1] if not n.startswith("relu")]
    if ax is None:
        _, (ax,) = new_axes(1, 11.0, 0.42 * len(column) + 1.0)
    y = {name: -i for i, name in enumerate(column)}
    for a, b in zip(column, column[1:]):
        _arrow(ax, (0, y[a] - 0.3), (0, y[b] + 0.3))
    for name in column:
        kind = "PARAMETER" if name == "input1" else "vgg"
        label = "PARAMETER input1\n(the image)" if name == "input1" else name
        _box(ax, 0, y[name], label, kind, width=1.7)
    for name, kind in [(n, "style") for n in config.style_layers] + [(n, "content") for n in config.content_layers]:
        row = y[name.replace("relu", "conv")] if not name.startswith("pool") else y[name]
        chain = _branch(config, name, kind)
        xs = [2.4 + 1.9 * (i + 3 - len(chain)) for i in range(len(chain))]  # right-aligned
        _arrow(ax, (0.85, row), (xs[0] - 0.8, row))
        for i, label in enumerate(chain):
            _box(ax, xs[i], row, label, label.split("\n")[0])
            if i:
                _arrow(ax, (xs[i - 1] + 0.8, row), (xs[i] - 0.8, row))
        _box(ax, xs[-1] + 2.0, row, f"INPUT\n{kind} {name}", "INPUT")
        _arrow(ax, (xs[-1] + 1.2, row), (xs[-1] + 0.8, row))
    ax.set_xlim(-1.0, 12.5)
    ax.set_ylim(-len(column) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title("VGG19 augmented for style transfer (weights frozen; only input1 learns)")
    return figure_of(ax)


def _branch(config: Config, name: str, kind: str) -> list[str]:
    """Box labels of one loss branch, in the order the data flows."""
    gate = ["EVENT"] if config.event_gate else []
    if kind == "style":
        alpha = "" if config.gram_scale is None else f" a={config.gram_scale:g}"
        weight = dict(zip(config.style_layers, config.style_layer_weights))[name] * config.style_weight
        scale = " / 4C^4" if config.style_channel_scale else ""
        return [f"GRAM\ngram{name[4:]}{alpha}", *gate, f"EUCLIDEAN_LOSS\nx{weight:g}{scale}"]
    weight = dict(zip(config.content_layers, config.content_layer_weights))[name] * config.content_weight
    scalar = [] if config.content_scale is None else [f"SCALAR\nx{config.content_scale:g}"]
    return [*scalar, *gate, f"EUCLIDEAN_LOSS\nx{weight:g}"]


def _box(ax: Axes, x: float, y: float, text: str, kind: str, width: float = 1.6) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5,
            bbox=dict(boxstyle="round,pad=0.3", fc=_COLOURS.get(kind, "white"), ec="0.3"))


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="0.35", lw=0.9))
