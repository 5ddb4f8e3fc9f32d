"""The Neural Style Transfer Evaluator: pick images and settings, Run, watch, Stop, Save.

Two parts, each readable on its own: `EvaluatorView` holds the widgets and their layout and
turns them into a `Config`; `EvaluatorController` runs `stylize` in a worker thread, stops
and saves it, and takes uploads. Everything the worker shows goes through
`EvaluatorController.show`.
"""

from __future__ import annotations

import functools
import io
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as W
from torch import Tensor

from .. import cost as estimator
from ..config import Config
from ..data import CONTENT, STYLE, bundled_images, image_path
from ..errors import ImageLoadError, NSTError
from ..images import ImageSource, load_image, save_image, to_pil
from ..solve import SolveResult
from ..stylize import stylize
from .base import Messages, explain, shows_errors
from .live import LiveSolve
from .painter import MaskPainter

STYLE_CHOICES = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv1_2", "conv2_2", "conv3_2")
STAGES = {"1 stage: the plain solve": (1.0,), "2 stages: 1/2, full": (0.5, 1.0),
          "3 stages: 1/4, 1/2, full": (0.25, 0.5, 1.0)}
MAX_UPLOAD_BYTES = 20 * 2**20
NO_STYLE = "(none)"


class EvaluatorView(W.VBox):
    """The Evaluator's controls, live view and messages, laid out; no behaviour of its own."""

    controller: EvaluatorController  # set by `Evaluator()`

    def __init__(self, config: Config) -> None:
        names = bundled_images()
        self.content = W.Dropdown(options=names, value=CONTENT, description="content")
        self.style = W.Dropdown(options=names, value=STYLE, description="style")
        self.style2 = W.Dropdown(options=[NO_STYLE, *names], value=NO_STYLE, description="style 2",
                                 tooltip="a second painting: blended with the first, or in its own painted region")
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
        self.size = W.IntSlider(value=config.size, min=min(32, config.size), max=max(768, config.size), step=16,
                                description="size (px)")
        self.iterations = W.IntSlider(value=config.iterations, min=1, max=max(1000, config.iterations), step=1,
                                      description="iterations",
                                      tooltip="iterations at full size")
        stages = {**STAGES, **({} if config.scales in STAGES.values() else {str(config.scales): config.scales})}
        self.stages = W.Dropdown(options=list(stages.items()), value=config.scales, description="stages")
        self.coarse_iterations = W.IntSlider(value=config.coarse_iterations, min=0, max=300,
                                             description="coarse its", tooltip="iterations at each coarse stage")
        self.optimizer = W.ToggleButtons(options=["lbfgs", "adam"], value=config.optimizer, description="optimizer")
        self.event_gate = W.Checkbox(value=config.event_gate, description="EVENT gate")
        # "off", not None: a Dropdown whose value is None shows no label at all in the browser
        self.colours = W.Dropdown(options=[("painting's", "off"), ("photo's: luminance", "luminance"),
                                           ("photo's: histogram", "histogram")],
                                  value=config.preserve_color or "off", description="colours")
        self.regions = W.Checkbox(value=False, description="paint regions (one per style)", indent=False,
                                  style={"description_width": "initial"}, layout=W.Layout(width="auto"))
        self.previews = {name: W.Image(format="png", layout=W.Layout(height="64px", width="auto"))
                         for name in ("content", "style", "style 2")}  # what each picker has chosen
        self.painter_box = W.VBox([])  # holds the mask painter while regions are on
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.save_button = W.Button(description="Save", icon="save")
        self.save_path = W.Text(value="evaluator_result.png", description="save as")
        self.estimate = W.HTML(layout=W.Layout(margin="0 0 0 12px"))  # the predicted cost of a Run
        self.messages, self.live = Messages(), LiveSolve()
        layer_rows = [W.HBox([self.layers[n], self.layer_weights[n]]) for n in STYLE_CHOICES]
        wrap = W.Layout(flex_flow="row wrap", align_items="flex-start")  # a narrow screen wraps, never cuts off
        pickers = [W.HBox([W.VBox(column), self.previews[name]], layout=W.Layout(margin="0 12px 4px 0"))
                   for name, column in (("content", [self.content, self.content_upload]),
                                        ("style", [self.style, self.style_upload]),
                                        ("style 2", [self.style2, self.regions]))]
        # Run, the messages and the live view stay together at the top, so a projector of
        # 1280x720 shows the button and the picture at once; the settings follow below.
        super().__init__([
            W.HBox(pickers, layout=wrap),
            self.painter_box,
            W.HBox([self.run_button, self.stop_button, self.save_button, self.save_path, self.estimate], layout=wrap),
            self.messages, self.live,
            W.HTML("<b>settings</b>"),
            W.HBox([W.VBox([W.HTML("style layers and weights"), *layer_rows]),
                    W.VBox([self.style_weight, self.content_weight, self.size, self.iterations, self.stages,
                            self.coarse_iterations, self.optimizer, self.event_gate, self.colours])], layout=wrap),
        ])

    def settings(self, base: Config) -> Config:
        """`base` with the controls' values (raises `ConfigError` for an impossible combination)."""
        chosen = [n for n in STYLE_CHOICES if self.layers[n].value]
        return replace(base, style_layers=tuple(chosen),
                       style_layer_weights=tuple(self.layer_weights[n].value for n in chosen),
                       style_weight=self.style_weight.value, content_weight=self.content_weight.value,
                       size=self.size.value, iterations=self.iterations.value, scales=self.stages.value,
                       coarse_iterations=self.coarse_iterations.value, optimizer=self.optimizer.value,
                       event_gate=self.event_gate.value,
                       preserve_color=None if self.colours.value == "off" else self.colours.value)

    def style_names(self) -> list[str]:
        """The chosen paintings: the style, and style 2 when one is chosen."""
        return [self.style.value] + ([self.style2.value] if self.style2.value != NO_STYLE else [])

    def add_image(self, name: str) -> None:
        """Offer `name` in both image pickers, leaving what each one shows as it was."""
        for dropdown in (self.content, self.style, self.style2):
            if name not in dropdown.options:
                keep = dropdown.value
                dropdown.options = [*dropdown.options, name]  # resets the selection ...
                dropdown.value = keep  # ... so put it back

    def show_preview(self, which: str, source: ImageSource | None) -> None:
        """The thumbnail beside picker `which` ("content", "style", "style 2"); None empties it."""
        image = self.previews[which]
        if source is None:
            image.value, image.layout.visibility = b"", "hidden"
            return
        buffer = io.BytesIO()
        to_pil(load_image(source, 96)).save(buffer, format="PNG")
        image.value, image.layout.visibility = buffer.getvalue(), "visible"

    def show_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running


class EvaluatorController:
    """Run, Stop, Save and uploads for an `EvaluatorView`; the solve runs in a worker thread
    so Stop (and every other control) keeps working."""

    def __init__(self, view: EvaluatorView, config: Config) -> None:
        self.view, self.config = view, config
        self.messages = view.messages  # what `shows_errors` reports into
        self.last_traceback: str | None = None
        self.uploads: dict[str, bytes] = {}
        self.result: SolveResult | None = None
        self.summary: tuple[str, ...] = ()  # the last run's line, kept beside what Save says
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        view.run_button.on_click(self.run)
        view.stop_button.on_click(self.stop)
        view.save_button.on_click(self.save)
        view.content_upload.observe(functools.partial(self.upload, target=view.content), names="value")
        view.style_upload.observe(functools.partial(self.upload, target=view.style), names="value")
        for control in (view.regions, view.content, view.style, view.style2):
            control.observe(self.show_painter, names="value")
        self.painter: MaskPainter | None = None
        for control in (view.size, view.iterations, view.stages, view.coarse_iterations, view.content,
                        view.style2, view.regions, *view.layers.values()):
            control.observe(self.show_estimate, names="value")
        for which, picker in (("content", view.content), ("style", view.style), ("style 2", view.style2)):
            picker.observe(functools.partial(self.show_preview, which), names="value")
            self.show_preview(which)
        self.show_estimate()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def source(self, name: str) -> bytes | Path:
        """Bytes of an uploaded image, or the path of a bundled one."""
        return self.uploads[name] if name in self.uploads else image_path(name)

    @shows_errors
    def run(self, _button: Any = None) -> None:
        if self.running:
            return
        config = self.view.settings(self.config)
        masks = self.painter.check() if self.view.regions.value and self.painter is not None else None
        self.stop_event.clear()
        self.result = None
        self.view.live.reset()
        self.show(running=True, info=f"preparing {config.size} px, {config.iterations} {config.optimizer} "
                                     "iterations at full size ...")
        self.thread = threading.Thread(target=self.work, args=(config, masks), daemon=True)
        self.thread.start()

    def work(self, config: Config, masks: Tensor | None = None) -> None:
        """The worker thread: the same `stylize` as the CLI and the notebooks."""
        start = time.perf_counter()
        try:
            content = self.source(self.view.content.value)
            styles = [self.source(name) for name in self.view.style_names()]
            result = stylize(content, styles, config, callback=self.progress, stop=self.stop_event, progress=False,
                             masks=masks)
            verb = "stopped" if result.stopped else "finished"
            self.summary = (f"{verb} after {result.summary()}, {time.perf_counter() - start:.1f} s",)
            self.show(result=result, current=result.image, info=self.summary[0])
        except Exception as exc:  # noqa: BLE001 - shown in the app; the thread has nobody else to tell
            self.last_traceback = traceback.format_exc()
            self.show(error=explain(exc))
        finally:
            self.show(running=False)

    def progress(self, result: SolveResult, current: Tensor) -> None:
        self.show(result=result, current=current, final=False)

    def show(self, *, result: SolveResult | None = None, current: Tensor | None = None, final: bool = True,
             info: str | None = None, error: str | None = None, running: bool | None = None) -> None:
        """The one place that changes the view on behalf of a solve, from any thread.

        A result with its `current` image goes to the live view: every time when `final`,
        else at the live view's own pace.
        """
        if result is not None and current is not None:
            self.result = result
            (self.view.live.update if final else self.view.live)(result, current)
        if info is not None:
            self.messages.info(info)
        if error is not None:
            self.messages.error(error)
        if running is not None:
            self.view.show_running(running)

    @shows_errors
    def show_estimate(self, _change: Any = None) -> None:
        """The predicted peak memory and time of a Run with the current settings (`nt.estimate`)."""
        config = self.view.settings(self.config)
        regions = len(self.view.style_names()) if self.view.regions.value else 1
        est = estimator.estimate(config, self.source(self.view.content.value),
                                 estimator.calibrate(config, measure=False), regions=regions)
        most = "at most " if est.capped else ""
        self.view.estimate.value = (f"about <b>{est.peak_mb:,.0f} MB</b>, "
                                    f"<b>{est.seconds_per_iteration:.2f} s</b> per full-size iteration, "
                                    f"{most}<b>{estimator.duration(est.seconds)}</b> in all")

    @shows_errors
    def show_preview(self, which: str, _change: Any = None) -> None:
        """The thumbnail of what picker `which` has chosen."""
        name = {"content": self.view.content, "style": self.view.style, "style 2": self.view.style2}[which].value
        self.view.show_preview(which, None if name == NO_STYLE else self.source(name))

    @shows_errors
    def show_painter(self, _change: Any = None) -> None:
        """With regions on, a fresh painter for the current photo and paintings (one colour each)."""
        self.painter = None
        if self.view.regions.value:
            self.painter = MaskPainter(self.source(self.view.content.value), self.view.style_names())
        self.view.painter_box.children = [] if self.painter is None else [self.painter]

    @shows_errors
    def stop(self, _button: Any = None) -> None:
        self.stop_event.set()
        self.messages.info("stopping after this iteration ...")

    @shows_errors
    def save(self, _button: Any = None) -> None:
        if self.result is None:
            raise NSTError("nothing to save yet: press Run first")
        path = save_image(self.result.image, self.view.save_path.value)
        self.messages.info(*self.summary, f"saved {path.resolve()}")  # beside the run's summary, not instead

    @shows_errors
    def upload(self, change: dict[str, Any], target: W.Dropdown) -> None:
        files = change["new"]
        if not files:
            return
        button = change["owner"]
        button.value = ()  # taken: the button shows no count, and the same file again is a new upload
        upload = files[0]
        data = bytes(upload["content"])
        if len(data) > MAX_UPLOAD_BYTES:
            raise NSTError(f"{upload['name']} is {len(data) / 2**20:.1f} MB; the limit is "
                           f"{MAX_UPLOAD_BYTES // 2**20} MB")
        try:  # refuse anything that is not a safe, readable image before changing state
            load_image(data)
        except ImageLoadError as exc:
            raise ImageLoadError(f"{upload['name']}: {str(exc).removeprefix('uploaded data: ')}; "
                                 "nothing was changed") from None
        name = f"upload: {upload['name']}"
        self.uploads[name] = data
        self.view.add_image(name)
        target.value = name
        self.messages.info(f"loaded {upload['name']}")


def Evaluator(config: Config | None = None) -> EvaluatorView:  # noqa: N802 - reads as the app's name
    """The Evaluator app: a view wired to its controller (`view.controller`). Display it in a notebook.
    Without `config` it starts from the default `Config`, at 192 px."""
    config = config or Config(size=192)
    view = EvaluatorView(config)
    view.controller = EvaluatorController(view, config)
    return view
