"""Curves: the loss of each term over the iterations, stages marked; and pictures placed on the
two axes of judgement (content kept, style arrived)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..judge import Scores
from ..solve import SolveResult, Stage
from .figures import figure_of, new_axes

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


def plot_two_axes(scores: Mapping[str, Scores], ax: Axes | None = None, connect: bool = False) -> Figure:
    """Each picture as a point: held-out style distance across, content fidelity up (`judge.Scores`).

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


