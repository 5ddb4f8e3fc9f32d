"""What every widget here is built from: a matplotlib figure shown as a PNG, a message line, and
callbacks whose errors land in that line.

Figures are plain `matplotlib.figure.Figure`s, never registered with pyplot, shown as PNGs in
an `ipywidgets.Image`: updates change artists (`set_data`) and re-render that one image, which
works in any Jupyter front end without a matplotlib widget extension.
"""

from __future__ import annotations

import functools
import html
import io
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from ..errors import NSTError



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

    def info(self, *lines: str) -> None:
        self.value = "<br>".join(f"<span>{html.escape(line)}</span>" for line in lines)

    def error(self, text: str) -> None:
        self.value = f"<b style='color:#b00020'>Error:</b> <span style='color:#b00020'>{html.escape(text)}</span>"


def shows_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a widget callback so an exception appears in `self.messages`, not in a lost log."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - anything a callback raises must reach the user
            self.messages.error(explain(exc))
            self.last_traceback = traceback.format_exc()
    return wrapper


def explain(exc: BaseException) -> str:
    """An error in words for the person at the widget: our errors say what to fix, so their text
    is enough; anything else is a bug, named by its type."""
    return str(exc) if isinstance(exc, NSTError) else f"unexpected {type(exc).__name__}: {exc}"
