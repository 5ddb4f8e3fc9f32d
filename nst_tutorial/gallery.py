"""Galleries: the same photo solved under several settings, side by side with loss curves and scores.

The loss curves show what each solve minimised; the scores (`metrics`) judge the pictures with
numbers none of them optimised, on two axes: content kept and style arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from matplotlib.figure import Figure
from tqdm.auto import tqdm

from . import plots
from .config import Config
from .images import ImageSource
from .metrics import Judge, Scores
from .pipeline import stylize
from .solve import SolveResult

Variant = Config | tuple[ImageSource, Config]  # a config, or a (style image, config) pair


def run_gallery(content: ImageSource, style: ImageSource, variants: Mapping[str, Variant]) -> dict[str, SolveResult]:
    """Solve once per variant (with a progress bar over variants); `style` is the default style."""
    results = {}
    for label, variant in tqdm(variants.items(), desc="gallery", unit="run"):
        variant_style, config = _split(variant, style)
        results[label] = stylize(content, variant_style, config, progress=False)
    return results


def score_gallery(content: ImageSource, style: ImageSource, variants: Mapping[str, Variant],
                  results: Mapping[str, SolveResult]) -> dict[str, Scores]:
    """Each result scored against the photo and its own painting (`metrics.Judge`), as 8-bit files hold it."""
    judges: dict[int, Judge] = {}
    scores = {}
    for label, result in results.items():
        variant_style, _ = _split(variants[label], style)
        judge = judges.setdefault(id(variant_style), Judge(content, variant_style))
        scores[label] = judge.score(result.image)
    return scores


def _split(variant: Variant, style: ImageSource) -> tuple[ImageSource, Config]:
    return variant if isinstance(variant, tuple) else (style, variant)


def plot_gallery(results: Mapping[str, SolveResult], ncols: int = 5, relative: bool = False,
                 scores: Mapping[str, Scores] | None = None, trade_off: bool = False) -> Figure:
    """Result images in rows of `ncols`, titled by label, and below them each run's total loss.

    `relative` divides each curve by its first value: for losses whose scales differ (the style
    losses of Li et al.), where only the shape of the curves can be compared. With `scores`, a
    two-axis plot beside the curves places each picture by content kept and style arrived
    (`plots.plot_two_axes`; `trade_off` joins the points in order, for a sweep).
    """
    n = len(results)
    rows = -(-n // ncols)
    fig = plots.new_figure(3.0 * ncols, 3.2 * rows + 3.0, layout="constrained")
    grid = fig.add_gridspec(rows + 1, ncols, height_ratios=[3.2] * rows + [3.0])
    for i, (label, result) in enumerate(results.items()):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        plots.show_images({label: result.image}, axes=[ax])
    split = max(1, ncols // 2) if scores else ncols
    ax = fig.add_subplot(grid[rows, :split])
    if scores:
        plots.plot_two_axes(scores, ax=fig.add_subplot(grid[rows, split:]), connect=trade_off)
    for label, result in results.items():
        ax.plot(result.iterations, [v / result.total[0] for v in result.total] if relative else result.total,
                label=label)
    ax.set(yscale="log", xlabel="iteration", ylabel="total loss / its first value" if relative else "total loss")
    ax.legend(fontsize="small", ncol=min(n, 5))
    ax.grid(True, which="both", alpha=0.3)
    return fig


def growing_style_layers(config: Config) -> dict[str, Config]:
    """conv1_1 alone, then conv1_1-conv2_1, ... up to all of `config.style_layers`, equal weights."""
    layers = config.style_layers
    return {f"{layers[0]}..{layers[n - 1]}" if n > 1 else layers[0]:
            replace(config, style_layers=layers[:n], style_layer_weights=(1.0 / n,) * n)
            for n in range(1, len(layers) + 1)}


def content_style_ratios(config: Config, factors: tuple[float, ...] = (0.1, 1.0, 10.0)) -> dict[str, Config]:
    """The content weight times each factor: less content (more style) to more content."""
    return {f"content x{f:g}": replace(config, content_weight=config.content_weight * f) for f in factors}


def compare(content: ImageSource, style: ImageSource, variants: Mapping[str, Variant], ncols: int = 5,
            relative: bool = False, trade_off: bool = False) -> Figure:
    """Run, score and plot a gallery in one call: the pictures, their loss curves, and where each
    lies on the two axes (`plot_gallery` with `score_gallery`'s scores)."""
    results = run_gallery(content, style, variants)
    return plot_gallery(results, ncols, relative, scores=score_gallery(content, style, variants, results),
                        trade_off=trade_off)
