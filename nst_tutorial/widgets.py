"""Interactive views for the notebooks: Gram explorer, live solve view, and the Evaluator app.

Figures here are plain `matplotlib.figure.Figure`s, never registered with pyplot, shown as
PNGs in an `ipywidgets.Image`: updates change artists (`set_data`) and re-render that one
image, which works in any Jupyter front end without a matplotlib widget extension.
"""

from __future__ import annotations

import functools
import html
import io
import time
import threading
import traceback
from dataclasses import replace
from collections.abc import Callable, Mapping

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage
from torch import Tensor

from . import plots
from .augment import AugmentedModel
from .config import Config
from .data import CONTENT, STYLE, bundled_images, image_path
from .errors import NSTError
from .images import load_image, save_image
from .pipeline import prepare
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
        PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).save(
            buffer, format="PNG", compress_level=1)  # fast encoding: this runs inside the solve loop
        self.value = buffer.getvalue()


class Messages(W.HTML):
    """One line of status or error text inside a widget."""

    def info(self, text: str) -> None:
        self.value = f"<span>{html.escape(text)}</span>"

    def error(self, text: str) -> None:
        self.value = f"<b style='color:#b00020'>Error:</b> <span style='color:#b00020'>{html.escape(text)}</span>"


def shows_errors(method: Callable) -> Callable:
    """Decorate a widget callback so an exception appears in `self.messages`, not in a lost log."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
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
    def _on_layer(self, change) -> None:
        self._set_channel_limits(self.channels.value[1] - self.channels.value[0])
        self._redraw()

    @shows_errors
    def _on_channels(self, change) -> None:
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
    """Loss curves (log scale) and the image as it forms, redrawn in place while `solve` runs.

    Pass it to `solve(..., callback=live)`; it redraws at most every `every` seconds so the
    drawing never costs more than a small part of the solve.
    """

    def __init__(self, every: float = 1.0) -> None:
        self.every, self._last = every, 0.0
        self.view = FigureView(11.0, 3.8, ncols=2)
        self.readout = W.HTML("not started")
        self.lines: dict = {}
        self.picture = None
        ax_loss, ax_image = self.view.axes
        ax_loss.set(yscale="log", xlabel="iteration", ylabel="loss", title="losses")
        ax_loss.grid(True, which="both", alpha=0.3)
        ax_image.axis("off")
        super().__init__([self.readout, self.view])

    def __call__(self, result: SolveResult, current: Tensor) -> None:
        if time.monotonic() - self._last >= self.every:
            self.update(result, current)

    def run(self, model: AugmentedModel, config: Config, **solve_kwargs) -> SolveResult:
        """`solve` with this view as its callback, and a last redraw at the end."""
        result = solve(model, config, callback=self, progress=False, **solve_kwargs)
        self.update(result, model.rgb())
        return result

    def update(self, result: SolveResult, current: Tensor) -> None:
        ax_loss, ax_image = self.view.axes
        for name, values in result.history.items():
            if name not in self.lines:
                self.lines[name] = ax_loss.plot([], [], label=name, lw=2.2 if name == "total" else 1.1,
                                                color="k" if name == "total" else None)[0]
                ax_loss.legend(fontsize="x-small", ncol=2, loc="upper right")
            self.lines[name].set_data(result.iterations, values)
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


STYLE_CHOICES = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv1_2", "conv2_2", "conv3_2")
MAX_UPLOAD_BYTES = 20 * 2**20


class Evaluator(W.VBox):
    """The Neural Style Transfer Evaluator: pick images and settings, Run, watch, Stop, Save.

    The solve runs in a worker thread so Stop (and every other control) keeps working.
    """

    def __init__(self, config: Config = Config(size=192, iterations=100)) -> None:
        self.config = config
        self.uploads: dict[str, bytes] = {}
        self.result: SolveResult | None = None
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.messages, self.last_traceback = Messages(), None
        names = bundled_images()
        self.content = W.Dropdown(options=names, value=CONTENT, description="content")
        self.style = W.Dropdown(options=names, value=STYLE, description="style")
        self.content_upload = W.FileUpload(accept="image/*", description="content")
        self.style_upload = W.FileUpload(accept="image/*", description="style")
        weights = dict(zip(config.style_layers, config.style_layer_weights))
        self.layers = {n: W.Checkbox(value=n in weights, description=n, indent=False,
                                     layout=W.Layout(width="80px")) for n in STYLE_CHOICES}
        self.layer_weights = {n: W.FloatSlider(value=weights.get(n, 0.2), min=0.0, max=1.0, step=0.05,
                                               readout_format=".2f", layout=W.Layout(width="260px"))
                              for n in STYLE_CHOICES}
        # Fine exponent steps, so the defaults (50, 0.2) are kept rather than rounded to 50.1.
        self.style_weight = W.FloatLogSlider(value=config.style_weight, base=10, min=-1, max=4, step=0.001,
                                             readout_format=".3g", description="style weight")
        self.content_weight = W.FloatLogSlider(value=config.content_weight, base=10, min=-3, max=2, step=0.001,
                                               readout_format=".3g", description="content wt")
        self.size = W.IntSlider(value=config.size, min=32, max=768, step=16, description="size (px)")
        self.iterations = W.IntSlider(value=config.iterations, min=1, max=1000, step=1, description="iterations")
        self.optimizer = W.ToggleButtons(options=["lbfgs", "adam"], value=config.optimizer, description="optimizer")
        self.event_gate = W.Checkbox(value=config.event_gate, description="EVENT gate")
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.save_button = W.Button(description="Save", icon="save")
        self.save_path = W.Text(value="evaluator_result.png", description="save as")
        self.live = LiveSolve()
        self.content_upload.observe(functools.partial(self._on_upload, target=self.content), names="value")
        self.style_upload.observe(functools.partial(self._on_upload, target=self.style), names="value")
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(self._on_stop)
        self.save_button.on_click(self._on_save)
        layer_rows = [W.HBox([self.layers[n], self.layer_weights[n]]) for n in STYLE_CHOICES]
        super().__init__([
            W.HBox([W.VBox([self.content, self.content_upload]), W.VBox([self.style, self.style_upload])]),
            W.HBox([W.VBox([W.HTML("<b>style layers and weights</b>"), *layer_rows]),
                    W.VBox([self.style_weight, self.content_weight, self.size, self.iterations,
                            self.optimizer, self.event_gate])]),
            W.HBox([self.run_button, self.stop_button, self.save_button, self.save_path]),
            self.messages, self.live,
        ])

    def settings(self) -> Config:
        """The controls as a `Config` (raises `ConfigError` for an impossible combination)."""
        chosen = [n for n in STYLE_CHOICES if self.layers[n].value]
        return replace(self.config, style_layers=tuple(chosen),
                       style_layer_weights=tuple(self.layer_weights[n].value for n in chosen),
                       style_weight=self.style_weight.value, content_weight=self.content_weight.value,
                       size=self.size.value, iterations=self.iterations.value, optimizer=self.optimizer.value,
                       event_gate=self.event_gate.value)

    def source(self, name: str):
        """Bytes of an uploaded image, or the path of a bundled one."""
        return self.uploads[name] if name in self.uploads else image_path(name)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @shows_errors
    def _on_run(self, _button=None) -> None:
        if self.running:
            return
        config = self.settings()
        self.stop_event.clear()
        self.result = None
        self._set_running(True)
        self.messages.info(f"preparing {config.size} px, {config.iterations} {config.optimizer} iterations ...")
        self.thread = threading.Thread(target=self._work, args=(config,), daemon=True)
        self.thread.start()

    def _work(self, config: Config) -> None:
        start = time.perf_counter()
        try:
            model = prepare(self.source(self.content.value), self.source(self.style.value), config)
            self.messages.info("solving ...")
            result = solve(model, config, callback=self._progress, stop=self.stop_event, progress=False)
            self.result = result
            self.live.update(result, model.rgb())
            n = result.iterations[-1] if result.iterations else 0
            verb = "stopped" if result.stopped else "finished"
            self.messages.info(f"{verb} after {n} iterations in {time.perf_counter() - start:.1f} s; "
                               f"best loss {result.best_loss:.4g}")
        except Exception as exc:  # noqa: BLE001 - shown in the app; the thread has nobody else to tell
            self.messages.error(f"{type(exc).__name__}: {exc}")
            self.last_traceback = traceback.format_exc()
        finally:
            self._set_running(False)

    def _progress(self, result: SolveResult, current: Tensor) -> None:
        self.result = result
        self.live(result, current)

    @shows_errors
    def _on_stop(self, _button=None) -> None:
        self.stop_event.set()
        self.messages.info("stopping after this iteration ...")

    @shows_errors
    def _on_save(self, _button=None) -> None:
        if self.result is None:
            raise NSTError("nothing to save yet: press Run first")
        path = save_image(self.result.image, self.save_path.value)
        self.messages.info(f"saved {path.resolve()}")

    @shows_errors
    def _on_upload(self, change, target: W.Dropdown) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[0]
        data = bytes(upload["content"])
        if len(data) > MAX_UPLOAD_BYTES:
            raise NSTError(f"{upload['name']} is {len(data) / 2**20:.1f} MB; the limit is "
                           f"{MAX_UPLOAD_BYTES // 2**20} MB")
        load_image(data)  # refuse anything that is not a safe, readable image before changing state
        name = f"upload: {upload['name']}"
        self.uploads[name] = data
        for dropdown in (self.content, self.style):
            if name not in dropdown.options:
                dropdown.options = [*dropdown.options, name]
        target.value = name
        self.messages.info(f"loaded {upload['name']}")

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
