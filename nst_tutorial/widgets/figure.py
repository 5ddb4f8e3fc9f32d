"""A matplotlib figure shown as a PNG in an image widget.

Figures are plain `matplotlib.figure.Figure`s, never registered with pyplot, shown as PNGs in
an `ipywidgets.Image`: updates change artists (`set_data`) and re-render that one image, which
works in any Jupyter front end without a matplotlib widget extension.
"""

from __future__ import annotations

import io

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage


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
