"""The page each student sees: the Evaluator for a class, its solves on the server's pool.

`VisitorView` lays the widgets out for a projector (1280x720: the controls on the left, Run and
the picture in sight together on the right); `VisitorController` sends Runs to the server, follows
the newest one, and turns the result into a download. Widgets only: this kernel imports neither
torch nor matplotlib, so thirty of them fit beside the workers.
"""

from __future__ import annotations

import atexit
import base64
import html
import os
import threading
import time
from typing import Any

import ipywidgets as W
from PIL import Image

from ..data import CONTENT, STYLE, image_path
from ..errors import NSTError
from ..widgets.base import Messages, explain, shows_errors
from ..widgets.painter import MaskPainter
from .client import ClassroomClient
from .curve import curve_svg
from .requests import JobState, Request
from .uploads import png_bytes, read_upload

NO_STYLE = "(none)"
POLL = 0.5  # seconds between two questions about a Run in progress
IDLE_POLL = 3.0  # seconds between two when none is: they only tell the server the page is open
PAGE_PATIENCE = 120.0  # seconds without a tick from the browser before the page counts as closed:
# a background tab's timers may slow to one a minute
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


class VisitorView(W.HBox):
    """The page's widgets, laid out; no behaviour of its own."""

    controller: VisitorController  # set by `classroom_app()`

    def __init__(self, setup: dict[str, Any]) -> None:
        names, defaults, largest = setup["images"], setup["defaults"], setup["max_size"]
        label = {"style": {"description_width": "95px"}}
        self.content = W.Dropdown(options=names, value=CONTENT, description="photo", **label)
        self.content_upload = W.FileUpload(accept="image/*", description="your photo")
        self.style = W.Dropdown(options=names, value=STYLE, description="painting", **label)
        self.style_upload = W.FileUpload(accept="image/*", description="your painting")
        self.style2 = W.Dropdown(options=[NO_STYLE, *names], value=NO_STYLE, description="painting 2", **label)
        self.regions = W.Checkbox(value=False, description="paint where each painting goes", indent=False)
        self.painter_box = W.VBox([])
        self.size = W.IntSlider(value=defaults["size"], min=min(64, largest), max=largest, step=16,
                                description="size (px)", **label)
        self.style_weight = W.FloatLogSlider(value=defaults["style_weight"], base=10, min=-1, max=4, step=0.001,
                                             readout_format=".3g", description="style weight", **label)
        self.content_weight = W.FloatLogSlider(value=defaults["content_weight"], base=10, min=-3, max=2,
                                               step=0.001, readout_format=".3g", description="photo weight", **label)
        self.colours = W.Dropdown(options=[("the painting's", "off"), ("the photo's: luminance", "luminance"),
                                           ("the photo's: histogram", "histogram")],
                                  value=defaults["preserve_color"] or "off", description="colours", **label)
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.save = W.HTML()  # the download link, once there is a picture
        self.queue_line = W.HTML()  # where the newest Run stands
        self.forecast = W.HTML()  # what a Run would cost now
        self.messages = Messages()
        # A fixed box, the picture scaled into it: the page does not jump as pictures arrive, and
        # a small one is shown large enough to see from the back of the room.
        self.picture = W.Image(format="png", layout=W.Layout(height="360px", width="100%", object_fit="contain"))
        self.picture.add_class("nst-picture")
        self.curve = W.HTML()
        # Ticks from the browser while the page is open: a closed tab's kernel may live on (Voilà
        # shuts it down only if the tab's last message gets through), and this is how it knows.
        self.ticks = W.Play(interval=5000, max=10**9, repeat=True, layout=W.Layout(display="none"))
        left = W.VBox([self.content, self.content_upload, self.style, self.style_upload, self.style2, self.regions,
                       self.painter_box, self.size, self.style_weight, self.content_weight, self.colours],
                      layout=W.Layout(width="470px", margin="0 16px 0 0"))
        right = W.VBox([W.HBox([self.run_button, self.stop_button, self.save]), self.queue_line, self.forecast,
                        self.messages, self.picture, self.curve, self.ticks], layout=W.Layout(flex="1 1 480px"))
        super().__init__([left, right], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))

    def settings(self) -> dict[str, Any]:
        return {"size": self.size.value, "style_weight": self.style_weight.value,
                "content_weight": self.content_weight.value, "preserve_color": self.colours.value}


class VisitorController:
    """What the page does: uploads, Run and Stop on the server, the live view, the download."""

    def __init__(self, view: VisitorView, client: ClassroomClient, setup: dict[str, Any]) -> None:
        self.view, self.client, self.max_size = view, client, setup["max_size"]
        self.messages, self.last_traceback = view.messages, None
        self.visitor = client.join()
        self.uploads: dict[str, bytes] = {}  # "content" / "style" -> PNG bytes, brought down to size
        self.bundled: dict[str, bytes] = {}  # a bundled picture's name -> the same
        self.job: str | None = None  # the Run the page follows: the newest
        self.shown = 0  # pictures of it shown so far
        self.saved: str | None = None  # the job whose picture the download link holds
        self.painter: MaskPainter | None = None
        self.painter_photo = b""  # the photo the painter shows
        view.run_button.on_click(self.run)
        view.stop_button.on_click(self.stop)
        view.content_upload.observe(lambda change: self.upload("content", change), names="value")
        view.style_upload.observe(lambda change: self.upload("style", change), names="value")
        for control in (view.content, view.style, view.style2, view.regions):
            control.observe(self.regions_changed, names="value")
        view.content.observe(self.preview, names="value")
        for control in (view.size, view.style_weight, view.content_weight, view.colours):
            control.observe(self.settings_changed, names="value")
        self.closed, self.wake = threading.Event(), threading.Event()  # the page is gone; a Run was pressed
        self.ticked = time.monotonic()  # the browser's last tick
        view.ticks.observe(self.tick, names="value")
        atexit.register(self.close)  # Voilà shuts the kernel down when the tab closes
        threading.Thread(target=self._poll_forever, name="classroom-poll", daemon=True).start()
        self.settings_changed()
        self.preview()

    def picture(self, which: str) -> bytes:
        """The chosen photo or painting as PNG bytes at most the class's size: the upload if the
        dropdown still shows it, else the bundled file."""
        dropdown = {"content": self.view.content, "style": self.view.style, "style2": self.view.style2}[which]
        if dropdown.value.startswith("(uploaded)"):
            return self.uploads[which]
        if dropdown.value not in self.bundled:  # read and brought down once: previews and Runs reuse it
            self.bundled[dropdown.value] = read_upload(image_path(dropdown.value).read_bytes(), self.max_size,
                                                       dropdown.value)
        return self.bundled[dropdown.value]

    @shows_errors
    def upload(self, which: str, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        data = files[0]["content"]
        self.uploads[which] = read_upload(bytes(data), self.max_size, files[0]["name"])
        dropdown = self.view.content if which == "content" else self.view.style
        label = f"(uploaded) {which}"
        dropdown.options = [label, *[o for o in dropdown.options if not str(o).startswith("(uploaded)")]]
        dropdown.value = label
        if which == "content":
            self.preview()  # a second upload leaves the dropdown's value as it was
        self.messages.info(f"{files[0]['name']}: ready")

    @shows_errors
    def run(self, _button: Any = None) -> None:
        styles = [self.picture("style")]
        if self.view.style2.value != NO_STYLE:
            styles.append(self.picture("style2"))
        labels = None
        if self.view.regions.value and self.painter is not None:
            self.painter.check()
            labels = png_bytes(Image.fromarray(self.painter.model.labels()))
        state = self.client.submit(self.visitor, Request(self.picture("content"), styles, self.view.settings(),
                                                         labels))
        self.job, self.shown = state.job, 0
        self.messages.info("")
        self.show(state)
        self.wake.set()

    @shows_errors
    def stop(self, _button: Any = None) -> None:
        if self.job is not None:
            self.show(self.client.stop(self.visitor, self.job))

    @shows_errors
    def preview(self, _change: Any = None) -> None:
        """The chosen photo in the picture's place, until a Run has a picture of its own."""
        if self.job is None:
            self.view.picture.value = self.picture("content")

    @shows_errors
    def regions_changed(self, _change: Any = None) -> None:
        """The mask painter, on the chosen photo, while regions are on and there are two paintings."""
        wanted = self.view.regions.value and self.view.style2.value != NO_STYLE
        names = [self.view.style.value, self.view.style2.value]
        photo = self.picture("content")
        if wanted and self.painter is not None and self.painter_photo == photo:
            self.painter.rename(names)  # another painting: the strokes stay
        else:
            self.painter = MaskPainter(photo, names, width=320) if wanted else None
            self.painter_photo = photo
        self.view.painter_box.children = [self.painter] if wanted and self.painter else []
        if self.view.regions.value and not wanted:
            self.messages.info("choose a second painting to paint regions")

    @shows_errors
    def settings_changed(self, _change: Any = None) -> None:
        forecast = self.client.forecast(self.visitor, self.view.settings())
        wait = f", after about {seconds(forecast['wait'])} in the queue" if forecast["wait"] >= 1 else ""
        self.view.forecast.value = f"<small>a Run now: about {seconds(forecast['seconds'])} of painting{wait}</small>"

    def show(self, state: JobState) -> None:
        """The followed job's line, buttons, live picture, curve and download."""
        view = self.view
        view.queue_line.value = describe(state)
        view.stop_button.disabled = state.status not in ("queued", "running")
        if state.picture > self.shown:
            view.picture.value = self.client.picture(self.visitor, state.job)
            self.shown = state.picture
            view.curve.value = curve_svg(self.client.job(self.visitor, state.job).history)
        if state.status in ("done", "stopped") and self.saved != state.job and view.picture.value:
            data = base64.b64encode(view.picture.value).decode("ascii")
            view.save.value = (f"<a download='painted-{state.job}.png' href='data:image/png;base64,{data}' "
                               "style='padding:4px 10px;border:1px solid #888;border-radius:3px'>Save (download)</a>")
            self.saved = state.job

    def poll(self) -> None:
        states = self.client.status(self.visitor)  # also: the page is still open
        state = next((s for s in states if s.job == self.job), None)
        if state is not None and (state.status in ("queued", "running") or self.saved != state.job):
            self.show(state)
        else:
            self.settings_changed()  # no Run going: what one would cost now, as the queue moves

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.wake.set()
            try:
                self.client.leave(self.visitor)
            except NSTError:
                pass  # the server is gone already: nothing of ours runs there

    def tick(self, _change: Any = None) -> None:
        self.ticked = time.monotonic()

    def _poll_forever(self) -> None:
        while not self.closed.is_set():
            self.wake.wait(IDLE_POLL if self.view.stop_button.disabled else POLL)
            self.wake.clear()
            self.view.ticks.playing = True  # started once the page shows it: a view starts only on a change
            if time.monotonic() - self.ticked > PAGE_PATIENCE:
                self.close()  # the browser has gone quiet: its Runs are cancelled
            if self.closed.is_set():
                return
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - shown, and polling goes on
                self.messages.error(explain(exc))


def describe(state: JobState) -> str:
    """The followed Run in words: its place in the queue and the wait, or how it goes."""
    if state.status == "queued":
        place = ORDINALS.get(state.position or 0, f"{state.position}th")
        return (f"<b>waiting</b>: {place} in the queue, about {seconds(state.wait or 0)} before it starts, "
                f"then about {seconds(state.seconds or 0)} of painting")
    if state.status == "running":
        return f"<b>painting</b>: iteration {state.iteration}"
    if state.status == "failed":
        return f"<b style='color:#b00020'>failed</b>: {html.escape(state.error or '')}"
    if state.status == "done":
        return f"<b>done</b> in {seconds(state.ran or 0)}, after {seconds(state.waited or 0)} in the queue"
    return {"stopped": "<b>stopped</b>: the best picture so far is kept",
            "cancelled": "<b>cancelled</b> before it started"}[state.status]


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def classroom_app() -> VisitorView:
    """The page, connected to the server that started this kernel (`nst-tutorial serve`)."""
    url, key = os.environ.get("NST_CLASSROOM_URL"), os.environ.get("NST_CLASSROOM_KEY")
    if not url or not key:
        raise NSTError("this page is served by `nst-tutorial serve`; open the URL it printed")
    client = ClassroomClient(url, key)
    setup = client.setup()
    view = VisitorView(setup)
    view.controller = VisitorController(view, client, setup)
    return view
