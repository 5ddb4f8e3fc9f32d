"""Interactive views for the notebooks: the Gram explorer and the live solve view (the Evaluator is in `evaluator`).

Figures here are plain `matplotlib.figure.Figure`s, never registered with pyplot, shown as
PNGs in an `ipywidgets.Image`: updates change artists (`set_data`) and re-render that one
image, which works in any Jupyter front end without a matplotlib widget extension.
"""

from __future__ import annotations

import functools
import html
import io
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage
from torch import Tensor

from . import plots
from .augment import AugmentedModel
from .config import Config
from .images import ImageSource
from .pipeline import Styles, stylize
from .solve import SolveResult, solve


class FigureView(W.Image):
    """A matplotlib figure as an image widget; call `refresh()` after changing its artists."""

    def __init__(self, width: float, height: float, ncols: int = 1, dpi: int = 80) -> None:
        super().__init__(format="png")
        self.figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.axes = list(self.figure.subplots(1, ncols, squeeze=False)[0])

    def refresh(self) -> None:
        canvas = self.figure.canvas
        canvas.draw()
        # Lay out once, then keep the positions: constrained layout costs more than the drawing.
        self.figure.set_layout_engine("none")
        buffer = io.BytesIO()
        PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).save(  # type: ignore[attr-defined]
            buffer, format="PNG", compress_level=1)  # fast encoding: this runs inside the solve loop
        self.value = buffer.getvalue()


class Messages(W.HTML):
    """One line of status or error text inside a widget."""

    def info(self, text: str) -> None:
        self.value = f"<span>{html.escape(text)}</span>"

    def error(self, text: str) -> None:
        self.value = f"<b style='color:#b00020'>Error:</b> <span style='color:#b00020'>{html.escape(text)}</span>"


def shows_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a widget callback so an exception appears in `self.messages`, not in a lost log."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - anything a callback raises must reach the user
            self.messages.error(f"{type(exc).__name__}: {exc}")
            self.last_traceback = traceback.format_exc()
    return wrapper


class GramExplorer(W.VBox):
    """Pick a style layer and a channel range; see target, current and difference Gram heatmaps."""

    def __init__(self, targets: Mapping[str, Tensor], current: Mapping[str, Tensor], window: int = 64) -> None:
        self.targets, self.current = dict(targets), dict(current)
        first = next(iter(self.targets))
        self.layer = W.Dropdown(options=list(self.targets), value=first, description="layer")
        self.channels = W.IntRangeSlider(description="channels", continuous_update=False,
                                         layout=W.Layout(width="60%"))
        self.messages, self.last_traceback = Messages(), None
        self.view = FigureView(11.0, 3.4, ncols=3)
        self._set_channel_limits(window)
        self.heatmaps = plots.gram_heatmaps(self.targets[first], self.current[first], self.channels.value,
                                            axes=self.view.axes)
        self.view.refresh()
        self.layer.observe(self._on_layer, names="value")
        self.channels.observe(self._on_channels, names="value")
        super().__init__([W.HBox([self.layer, self.channels]), self.view, self.messages])

    def _set_channel_limits(self, window: int) -> None:
        c = self.targets[self.layer.value].shape[-1]
        with self.channels.hold_trait_notifications():  # validate min, max and value together
            self.channels.min, self.channels.max = 0, c
            self.channels.value = (0, min(window, c))

    @shows_errors
    def _on_layer(self, change: Any) -> None:
        self._set_channel_limits(self.channels.value[1] - self.channels.value[0])
        self._redraw()

    @shows_errors
    def _on_channels(self, change: Any) -> None:
        self._redraw()

    def _redraw(self) -> None:
        lo, hi = self.channels.value
        if hi <= lo:
            raise ValueError("choose a channel range of at least one channel")
        name = self.layer.value
        plots.update_gram_heatmaps(self.heatmaps, self.targets[name], self.current[name], (lo, hi))
        self.heatmaps[0].axes.set_title(f"style target {name}")
        self.view.refresh()
        self.messages.info(f"{name}: channels {lo}-{hi - 1} of {self.targets[name].shape[-1]}")


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
        self.stage_marks: list[Any] = []
        self.picture: Any = None
        ax_loss, ax_image = self.view.axes
        ax_loss.set(yscale="log", xlabel="iteration", ylabel="loss", title="losses")
        ax_loss.grid(True, which="both", alpha=0.3)
        ax_image.axis("off")
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

    def update(self, result: SolveResult, current: Tensor) -> None:
        ax_loss, ax_image = self.view.axes
        for name, values in result.history.items():
            if name not in self.lines:
                self.lines[name] = ax_loss.plot([], [], label=name, lw=2.2 if name == "total" else 1.1,
                                                color="k" if name == "total" else None)[0]
                ax_loss.legend(fontsize="x-small", ncol=2, loc="upper right")
            self.lines[name].set_data(result.iterations, values)
        for stage in result.stages[len(self.stage_marks) + 1:]:  # the first stage needs no mark
            if stage.start >= len(result.iterations):
                break  # marked once it has an iteration
            self.stage_marks.append(plots.mark_stage(ax_loss, result.iterations[stage.start], stage.label))
        ax_loss.relim()
        ax_loss.autoscale_view()
        if self.picture is None or self.picture.get_array().shape[:2] != tuple(current.shape[-2:]):
            ax_image.clear()
            ax_image.axis("off")
            self.picture = ax_image.imshow(plots.as_array(current))
        else:
            self.picture.set_data(plots.as_array(current))
        n = result.iterations[-1] if result.iterations else 0
        ax_image.set_title(f"iteration {n}")
        rate = n / result.times[-1] if result.times and result.times[-1] > 0 else 0.0
        total = f"{result.total[-1]:.4g}" if result.total else "-"
        self.readout.value = (f"iteration <b>{n}</b> &nbsp; loss {total} &nbsp; "
                              f"{result.times[-1] if result.times else 0:.1f} s &nbsp; {rate:.2f} it/s")
        self.view.refresh()
        self._last = time.monotonic()
