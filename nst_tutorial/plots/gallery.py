"""Galleries: the same photo solved under several settings, side by side with loss curves and scores.

A gallery is a small sweep (`batch.sweep`): pass `executor` to run it on a pool or a Dask cluster.

The loss curves show what each solve minimised; the scores (`judge.metrics`) judge the pictures with
numbers none of them optimised, on two axes: content kept and style arrived.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ..batch import Job, JobResult, sweep
from ..config import Config
from ..images import ImageSource
from ..judge import Scores
from ..stylize import Styles
from .figures import new_figure
from .images import show_images
from .losses import plot_two_axes

Variant = Config | tuple[ImageSource, Config]  # a config, or a (style image, config) pair


class Run(Protocol):
    """What a gallery shows of a solve: a `SolveResult`, or a sweep's `JobResult`."""

    image: Tensor | None
    iterations: list[int]

    @property
    def total(self) -> list[float]: ...


def run_gallery(content: str | os.PathLike[str], style: Styles, variants: Mapping[str, Variant],
                executor: Executor | None = None, score: bool = True) -> dict[str, JobResult]:
    """Solve every variant through `batch.sweep` on `executor` (default: a local process pool),
    each result scored by `judge.Judge` when it has one painting. `style` is the default
    style (several are blended); results come back in the variants' order. A job that failed
    comes back with its one-line `error` and no image, so the others are still shown.
    """
    jobs = {label: Job(content, *_split(variant, style), label=label) for label, variant in variants.items()}
    done = {r.job.label: r for r in sweep(jobs.values(), executor, score=score, progress=True)}
    return {label: done[label] for label in variants}


def scores_of(results: Mapping[str, JobResult]) -> dict[str, Scores]:
    """The scores the sweep computed, by label (results without one left out)."""
    return {label: r.scores for label, r in results.items() if r.scores is not None}


def _split(variant: Variant, style: Styles) -> tuple[tuple, Config]:
    style, config = variant if isinstance(variant, tuple) else (style, variant)
    return (tuple(style) if isinstance(style, (list, tuple)) else (style,)), config


def plot_gallery(results: Mapping[str, Run], ncols: int = 5, relative: bool = False,
                 scores: Mapping[str, Scores] | None = None, trade_off: bool = False) -> Figure:
    """Result images in rows of `ncols`, titled by label, and below them each run's total loss.

    `relative` divides each curve by its first value: for losses whose scales differ (the style
    losses of Li et al.), where only the shape of the curves can be compared. With `scores`, a
    two-axis plot beside the curves places each picture by content kept and style arrived
    (`plots.plot_two_axes`; `trade_off` joins the points in order, for a sweep).
    """
    n = len(results)
    rows = -(-n // ncols)
    fig = new_figure(3.0 * ncols, 3.2 * rows + 3.0, layout="constrained")
    grid = fig.add_gridspec(rows + 1, ncols, height_ratios=[3.2] * rows + [3.0])
    for i, (label, result) in enumerate(results.items()):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        if result.image is not None:
            show_images({label: result.image}, axes=[ax])
        else:
            _failed(ax, label, getattr(result, "error", None) or "no picture")
    split = max(1, ncols // 2) if scores else ncols
    ax = fig.add_subplot(grid[rows, :split])
    if scores:
        plot_two_axes(scores, ax=fig.add_subplot(grid[rows, split:]), connect=trade_off)
    for label, result in results.items():
        if not result.total:
            continue  # failed before its first iteration
        ax.plot(result.iterations, [v / result.total[0] for v in result.total] if relative else result.total,
                label=label)
    ax.set(yscale="log", xlabel="iteration", ylabel="total loss / its first value" if relative else "total loss")
    ax.legend(fontsize="small", ncol=min(n, 5))
    ax.grid(True, which="both", alpha=0.3)
    return fig


def _failed(ax: Axes, label: str, reason: str) -> None:
    """A grey tile in place of a picture that failed, with its reason."""
    ax.set_facecolor("0.85")
    ax.text(0.5, 0.5, "failed:\n" + textwrap.fill(reason, 28), ha="center", va="center", fontsize="small",
            color="#b00020", transform=ax.transAxes)
    ax.set(title=label, xticks=[], yticks=[])


def growing_style_layers(config: Config) -> dict[str, Config]:
    """conv1_1 alone, then conv1_1-conv2_1, ... up to all of `config.style_layers`, equal weights."""
    layers = config.style_layers
    return {f"{layers[0]}..{layers[n - 1]}" if n > 1 else layers[0]:
            replace(config, style_layers=layers[:n], style_layer_weights=(1.0 / n,) * n)
            for n in range(1, len(layers) + 1)}


def content_style_ratios(config: Config, factors: tuple[float, ...] = (0.1, 1.0, 10.0)) -> dict[str, Config]:
    """The content weight times each factor: less content (more style) to more content."""
    return {f"content x{f:g}": replace(config, content_weight=config.content_weight * f) for f in factors}


def compare(content: str | os.PathLike[str], style: Styles, variants: Mapping[str, Variant], ncols: int = 5,
            relative: bool = False, trade_off: bool = False, executor: Executor | None = None) -> Figure:
    """Run, score and plot a gallery in one call: the pictures, their loss curves, and where each
    lies on the two axes (`plot_gallery` with the sweep's scores)."""
    results = run_gallery(content, style, variants, executor)
    return plot_gallery(results, ncols, relative, scores=scores_of(results), trade_off=trade_off)
