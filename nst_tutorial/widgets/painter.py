"""Paint the regions of a photo with the mouse: one colour per style, a brush size, undo and clear.

`Strokes` is the model: the strokes painted so far, and the masks they make (`control.regions`'
input, later strokes over earlier ones). `MaskPainter` is the widget: the photo on an
ipycanvas `MultiCanvas`, the strokes drawn over it, and the controls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import io
import os
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image, ImageDraw

from ..decode import open_image, upright_rgb
from ..errors import NSTError
from .base import Messages, shows_errors

if TYPE_CHECKING:
    from torch import Tensor

PhotoSource = str | os.PathLike | bytes | Image.Image | np.ndarray  # a file, its bytes, or (H, W, 3) uint8

PALETTE = ("#e6194b", "#4363d8", "#3cb44b", "#f58231", "#911eb4", "#42d4f4")  # one per style, distinct


@dataclass
class Stroke:
    style: int  # which style this region is for (0, 1, ...)
    radius: float  # brush radius in canvas pixels
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Strokes:
    """What has been painted on a canvas of `width` x `height`, and the masks it makes."""

    width: int
    height: int
    styles: int
    strokes: list[Stroke] = field(default_factory=list)

    def labels(self) -> np.ndarray:
        """(height, width) uint8: the style painted at each pixel, 255 where none is; where
        strokes overlap the later one wins."""
        labels = Image.new("L", (self.width, self.height), 255)
        draw = ImageDraw.Draw(labels)
        for s in self.strokes:
            r = s.radius
            draw.line(s.points, fill=s.style, width=max(1, round(2 * r)))
            for x, y in s.points:  # round caps and joins, and single clicks
                draw.ellipse((x - r, y - r, x + r, y + r), fill=s.style)
        return np.asarray(labels)

    def masks(self) -> Tensor:
        """One 0/1 mask per style, (S, 1, height, width), for `stylize(masks=...)`."""
        return label_masks(self.labels(), self.styles)

    def unpainted(self) -> list[int]:
        """The styles without a single painted pixel."""
        painted = set(np.unique(self.labels()).tolist())
        return [i for i in range(self.styles) if i not in painted]


class MaskPainter(W.VBox):
    """The photo, and a brush that paints one region per style on it (left button drag).

    `masks()` returns the regions at the photo's displayed size, (S, 1, H, W); `check()` raises
    if a style has no region yet. Display it in a notebook, or inside the Evaluator.
    """

    def __init__(self, content: PhotoSource, style_names: list[str], width: int = 384) -> None:
        self.pixels = photo_pixels(content, width)
        h, w = self.pixels.shape[:2]
        self.model = Strokes(w, h, len(style_names))
        # Shown at its own pixel size: stretched to the page's width, it could outgrow the screen.
        self.canvas = MultiCanvas(2, width=w, height=h, layout=W.Layout(width=f"{w}px", height=f"{h}px"))
        self.canvas[0].put_image_data(self.pixels, 0, 0)
        # A reloaded page makes new, blank layers while the kernel's drawing commands can still be
        # lost (the page restores ipycanvas' command channel and the layers in parallel). So each
        # layer's pixels also travel as its state, which a layer draws itself when it is made:
        # the photo's set here, the strokes' sent back by the page after every change.
        self.canvas[0].set_trait("image_data", png_bytes(self.pixels))
        self.canvas[1].sync_image_data = True
        self.style = W.ToggleButtons(options=[(n, i) for i, n in enumerate(style_names)], value=0,
                                     description="paint for")
        self.style.style.button_width = "auto"
        self.brush = W.IntSlider(value=max(4, w // 16), min=1, max=max(8, w // 4), description="brush")
        self.undo_button = W.Button(description="Undo", icon="undo")
        self.clear_button = W.Button(description="Clear", icon="trash")
        self.legend = W.HTML()
        self.rename(style_names)
        self.messages, self.last_traceback = Messages(), None
        self._drawing = False
        self.canvas.on_mouse_down(self._down)
        self.canvas.on_mouse_move(self._move)
        self.canvas.on_mouse_up(self._up)
        self.canvas.on_mouse_out(self._up)
        self.canvas[0].on_client_ready(self._new_page)
        self.canvas[1].on_client_ready(self._replay_strokes)
        self.undo_button.on_click(self._undo)
        self.clear_button.on_click(self._clear)
        super().__init__([W.HBox([self.style, self.brush]), W.HBox([self.undo_button, self.clear_button, self.legend]),
                          self.canvas, self.messages])

    def rename(self, style_names: list[str]) -> None:
        """Other names for the same styles (another painting chosen): the strokes stay."""
        value = self.style.value
        self.style.options = [(n, i) for i, n in enumerate(style_names)]
        self.style.value = value
        self.legend.value = " ".join(f"<span style='background:{PALETTE[i % len(PALETTE)]};padding:0 6px'>"
                                     f"&nbsp;</span> {n}" for i, n in enumerate(style_names))

    def masks(self) -> Tensor:
        """The painted regions, (S, 1, H, W) at the canvas's size."""
        return self.model.masks()

    def check(self) -> Tensor:
        """The masks, or `NSTError` naming each style that has no painted region."""
        missing = self.model.unpainted()
        if missing:
            names = ", ".join(self.style.options[i][0] for i in missing)
            raise NSTError(f"paint a region for {names} first: each style needs one")
        return self.masks()

    @shows_errors
    def _down(self, x: float, y: float) -> None:
        self._drawing = True
        self.model.strokes.append(Stroke(self.style.value, self.brush.value / 2, [(x, y)]))
        self._dab(x, y)

    @shows_errors
    def _move(self, x: float, y: float) -> None:
        if not self._drawing:
            return
        stroke = self.model.strokes[-1]
        (x0, y0) = stroke.points[-1]
        stroke.points.append((x, y))
        layer = self.canvas[1]
        with hold_canvas():
            layer.stroke_style, layer.line_width, layer.line_cap = self._colour(), 2 * stroke.radius, "round"
            layer.stroke_line(x0, y0, x, y)

    def _up(self, x: float, y: float) -> None:
        self._drawing = False

    @shows_errors
    def _undo(self, _button: Any = None) -> None:
        if self.model.strokes:
            self.model.strokes.pop()
        self._redraw()

    @shows_errors
    def _clear(self, _button: Any = None) -> None:
        self.model.strokes.clear()
        self._redraw()

    def _dab(self, x: float, y: float) -> None:
        layer = self.canvas[1]
        layer.fill_style = self._colour()
        layer.fill_circle(x, y, self.brush.value / 2)

    def _colour(self, style: int | None = None) -> str:
        """The style's colour, translucent so the photo shows through (a colour's own alpha, not
        the layer's: a new layer in the page would forget that)."""
        colour = PALETTE[(self.style.value if style is None else style) % len(PALETTE)]
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgba({r}, {g}, {b}, 0.55)"

    @shows_errors
    def _new_page(self) -> None:
        """A layer is new in a page (a reload, or another page)."""
        self._name_the_next_canvas()

    @shows_errors
    def _replay_strokes(self) -> None:
        """Every stroke so far, drawn again for a stroke layer that is new in the page (the model
        is the strokes' truth: the page's copy may lag it). Only on this layer: the photo layer
        may not exist in the page yet, and a command for it would fail."""
        self._name_the_next_canvas()
        self._redraw()

    def _name_the_next_canvas(self) -> None:
        """A new page's ipycanvas channel knows no canvas yet, while the kernel's side remembers
        the last one it drew on and would not name it again; a command without a canvas fails
        there and stops every later one in that page (ipycanvas issue #322)."""
        self.canvas._canvas_manager._current_canvas = None

    def _redraw(self) -> None:
        """Repaint the stroke layer from the model (after undo or clear)."""
        layer = self.canvas[1]
        with hold_canvas():
            layer.clear()
            for s in self.model.strokes:
                layer.fill_style = layer.stroke_style = self._colour(s.style)
                layer.line_width, layer.line_cap = 2 * s.radius, "round"
                layer.fill_circle(*s.points[0], s.radius)
                for (x0, y0), (x1, y1) in zip(s.points, s.points[1:]):
                    layer.stroke_line(x0, y0, x1, y1)


def png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint8 as a PNG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_pixels(content: PhotoSource, width: int) -> np.ndarray:
    """(H, W, 3) uint8, upright, its long side `width` (scaled up or down, as `load_image` does)."""
    if isinstance(content, np.ndarray):
        content = Image.fromarray(content)
    image = upright_rgb(content if isinstance(content, Image.Image) else open_image(content))
    scale = width / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=None))


def label_masks(labels: np.ndarray, styles: int) -> Tensor:
    """(H, W) style numbers (`Strokes.labels`) -> one 0/1 mask per style, (S, 1, H, W)."""
    import torch  # here, not above: the classroom's pages show the painter without torch

    a = torch.from_numpy(labels.astype(np.int64))
    return torch.stack([(a == i).float() for i in range(styles)])[:, None]
