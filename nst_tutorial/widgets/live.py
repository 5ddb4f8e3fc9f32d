"""The live solve view: loss curves and the image as it forms, redrawn in place while a solve runs."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as W
from torch import Tensor

from ..augment import AugmentedModel
from ..config import Config
from ..images import ImageSource
from ..plots import as_array, mark_stage
from ..solve import SolveResult, solve
from ..stylize import Styles, stylize
from .figure import FigureView

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")

class LiveSolve(W.VBox):
    """Loss curves (log scale, stages marked) and the image as it forms, redrawn in place while a solve runs.

    Pass it as `callback=live` to `solve` or `stylize`; it redraws at most every `every`
    seconds so the drawing never costs more than a small part of the solve.
    """

    def __init__(self, every: float = 1.0) -> None:
        self.every, self._last = every, 0.0
        self.view = FigureView(11.0, 3.8, ncols=2)
        self.readout = W.HTML("not started")
        self.lines: dict[str, Any] = {}
        self.colours: dict[str, str] = {}  # one per term for the widget's life, across runs: runs compare
        self.stage_marks: list[Any] = []
        self.picture: Any = None
        ax_loss, ax_image = self.view.axes
        ax_loss.set(yscale="log", xlabel="iteration", ylabel="loss", title="losses")
        ax_loss.grid(True, which="both", alpha=0.3)
        ax_image.axis("off")
        self.view.refresh()  # empty axes until the first iteration, not a broken-image icon
        super().__init__([self.readout, self.view])

    def __call__(self, result: SolveResult, current: Tensor) -> None:
        if time.monotonic() - self._last >= self.every:
            self.update(result, current)

    def run(self, model: AugmentedModel, config: Config, **solve_kwargs: Any) -> SolveResult:
        """`solve` (the plain solve of one model) with this view as its callback, and a last redraw."""
        result = solve(model, config, callback=self, progress=False, **solve_kwargs)
        self.update(result, model.rgb())
        return result

    def stylize(self, content: ImageSource, styles: Styles, config: Config, **kwargs: Any) -> SolveResult:
        """`stylize` (all stages of `config.scales`) with this view as its callback, and a last redraw."""
        result = stylize(content, styles, config, callback=self, progress=False, **kwargs)
        self.update(result, result.image)
        return result

    def reset(self) -> None:
        """Forget the curves and stage marks of an earlier solve (a new one starts at iteration 1)."""
        for artist in [*self.lines.values(), *self.stage_marks]:
            artist.remove()
        self.lines, self.stage_marks = {}, []

    def colour(self, term: str) -> str:
        """The colour of a loss term: black for the total, the others in order of first appearance."""
        if term not in self.colours:
            used = sum(name != "total" for name in self.colours)
            self.colours[term] = "k" if term == "total" else PALETTE[used % len(PALETTE)]
        return self.colours[term]

    def update(self, result: SolveResult, current: Tensor) -> None:
        ax_loss, ax_image = self.view.axes
        for name, values in result.history.items():
            if name not in self.lines:
                self.lines[name] = ax_loss.plot([], [], label=name, lw=2.2 if name == "total" else 1.1,
                                                color=self.colour(name))[0]
                # Lower left: falling curves leave it empty, and the stage labels sit at the top.
                ax_loss.legend(fontsize="x-small", ncol=2, loc="lower left")
            self.lines[name].set_data(result.iterations, values)
        for stage in result.stages[len(self.stage_marks) + 1:]:  # the first stage needs no mark
            if stage.start >= len(result.iterations):
                break  # marked once it has an iteration
            self.stage_marks.append(mark_stage(ax_loss, result.iterations[stage.start], stage.label))
        ax_loss.relim()
        ax_loss.autoscale_view()
        if self.picture is None or self.picture.get_array().shape[:2] != tuple(current.shape[-2:]):
            ax_image.clear()
            ax_image.axis("off")
            self.picture = ax_image.imshow(as_array(current))
        else:
            self.picture.set_data(as_array(current))
        n = result.iterations[-1] if result.iterations else 0
        ax_image.set_title(f"iteration {n}")
        rate = n / result.times[-1] if result.times and result.times[-1] > 0 else 0.0
        total = f"{result.total[-1]:.4g}" if result.total else "-"
        self.readout.value = (f"iteration <b>{n}</b> &nbsp; loss {total} &nbsp; "
                              f"{result.times[-1] if result.times else 0:.1f} s &nbsp; {rate:.2f} it/s")
        self.view.refresh()
        self._last = time.monotonic()
