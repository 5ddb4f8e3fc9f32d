"""The notebooks in a real JupyterLab, driven by headless Chromium through Playwright.

Kernel-side tests cannot see a missing widget front end ("Error displaying widget"), a figure
that never renders or a button whose click never reaches the kernel; this test can. It starts
JupyterLab on 127.0.0.1 (free port, random token) over a temporary copy of the notebooks, whose
parameters cells get the same shrunken values as nbmake's `mock` metadata, runs the step-by-step
and Evaluator notebooks, and checks what the page shows. Screenshots, and on failure the browser
console, go to `test-artifacts/browser/` (override with NST_TEST_ARTIFACTS).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("NST_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
OUTPUT = ".jp-OutputArea-output"  # what the kernel rendered, never the cells' source text
LIVE_READOUT = re.compile(r"^iteration \d+ ")  # LiveSolve's readout, not a message that mentions iterations

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - reported by the fixture below
    sync_playwright = None


def apply_mocks(notebook: Path) -> None:
    """Append each cell's nbmake `mock` values to its source, as nbmake does after running it."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        mocks = cell.metadata.get("nbmake", {}).get("mock", {})
        if mocks:
            cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in mocks.items())
    nbformat.write(nb, notebook)


def free_port(pair: bool = False) -> int:
    """A free port on 127.0.0.1; with `pair`, one whose next port is free too."""
    while True:
        with socket.socket() as s, socket.socket() as t:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            try:
                if pair:
                    t.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if sync_playwright is None or not Path(CHROMIUM).exists():
        message = "the browser test needs `pip install playwright` and Debian's chromium (.ci/run installs both)"
        if os.environ.get("CI"):
            pytest.fail(message)  # on CI a missing browser is a failure, never a skip
        pytest.skip(message)
    root = tmp_path_factory.mktemp("lab")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
        apply_mocks(root / nb.name)
    port, token = free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--allow-root",
         f"--LabApp.workspaces_dir={root / '.workspaces'}"],  # no tabs restored from other sessions
        cwd=root, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {root / 'jupyterlab.log'}")
            time.sleep(0.5)
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def page(lab, request):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            yield page
        finally:
            name = request.node.name
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            if getattr(request.node, "failed", True):
                (ARTIFACTS / f"{name}.console.log").write_text("\n".join(console))
            browser.close()


def open_notebook(page: Page, lab, name: str) -> None:
    """Open a notebook and wait until its kernel is connected and idle (not merely not yet started)."""
    base, token, _ = lab
    # ?reset: start from an empty workspace, so no tab from an earlier test is restored
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}", wait_until="domcontentloaded")
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible(timeout=90_000)
    indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
    expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
    page.wait_for_timeout(1000)  # the status settles through idle/connecting once more on some starts
    expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
    assert page.locator(".jp-Dialog").count() == 0, "a dialog (Select Kernel?) blocks the notebook"


def run_all(page: Page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_idle(page: Page, timeout_ms: int) -> None:
    """Wait until the last code cell has an execution count and the kernel is idle again."""
    last_prompt = page.locator(".jp-CodeCell .jp-InputArea-prompt").last
    expect(last_prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout_ms)
    expect(page.locator(".jp-Notebook-ExecutionIndicator").first).to_have_attribute("data-status", "idle",
                                                                                   timeout=30_000)


def assert_no_errors(page: Page) -> None:
    assert page.get_by_text("Error displaying widget").count() == 0
    error = '[data-mime-type="application/vnd.jupyter.error"]'
    errors = page.locator(f"{OUTPUT}{error}, {OUTPUT} .jp-RenderedText{error}")
    assert errors.count() == 0, errors.first.inner_text()


def test_step_by_step_notebook_renders_and_gram_picker_changes_the_picture(page, lab):
    open_notebook(page, lab, "01_step_by_step.ipynb")
    run_all(page)
    wait_idle(page, 180_000)
    assert_no_errors(page)
    images = page.locator(f"{OUTPUT} img")
    assert images.count() >= 6  # images, diagram, Gram views, live view, result, loss plot
    explorer = page.locator(f"{OUTPUT} .widget-vbox", has=page.locator("select")).first
    explorer.scroll_into_view_if_needed()
    picture = explorer.locator("img").first
    before = picture.get_attribute("src")
    explorer.locator("select").select_option("conv3_1")
    expect(explorer.locator(".widget-html-content").last).to_contain_text("conv3_1: channels 0-63 of 256",
                                                                          timeout=20_000)
    expect(picture).not_to_have_attribute("src", before, timeout=20_000)
    # Drag the upper channel handle onto the lower one: one channel, drawn, never an error;
    # and a new layer then draws that layer.
    upper = explorer.locator(".noUi-handle-upper")
    upper.focus()
    page.keyboard.press("Home")  # as far down as it goes: onto the lower handle
    message = explorer.locator(".widget-html-content").last
    expect(message).to_contain_text(re.compile(r"conv3_1: channel \d+ of 256"), timeout=20_000)
    explorer.locator("select").select_option("conv5_1")
    expect(message).to_contain_text(re.compile(r"conv5_1: channels? \d+"), timeout=20_000)
    assert "Error" not in message.inner_text()
    # The plain solve's live view: 3 iterations, then 1 more when it continues.
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text=LIVE_READOUT).first).to_contain_text("iteration 4")


def test_evaluator_upload_run_stop_save_in_the_browser(page, lab, tmp_path):
    _, _, root = lab
    open_notebook(page, lab, "04_evaluator.ipynb")
    run_all(page)
    wait_idle(page, 60_000)
    assert_no_errors(page)
    # Upload a landscape photo as the content through the real file chooser.
    photo = tmp_path / "landscape.png"
    Image.new("RGB", (60, 40), "teal").save(photo)
    with page.expect_file_chooser() as chooser:
        page.locator(f"{OUTPUT} .widget-upload", has_text="content").click()
    chooser.value.set_files(str(photo))
    content = page.locator(f"{OUTPUT} .widget-dropdown", has=page.locator("label", has_text=re.compile("^content$")))
    style = page.locator(f"{OUTPUT} .widget-dropdown", has=page.locator("label", has_text=re.compile("^style$")))
    expect(content.locator("select")).to_have_value("upload: landscape.png", timeout=20_000)
    expect(style.locator("select")).to_have_value("starry_night.jpg")  # the other choice is left alone
    run = page.locator(f"{OUTPUT} .widget-button", has_text="Run")
    stop = page.locator(f"{OUTPUT} .widget-button", has_text="Stop")
    expect(run).to_be_visible()
    expect(stop).to_be_disabled()
    run.click()
    readout = page.locator(f"{OUTPUT} .widget-html-content", has_text=LIVE_READOUT)
    expect(readout.first).to_be_visible(timeout=60_000)
    live_image = page.locator(f"{OUTPUT} img").last
    first_src, first_text = live_image.get_attribute("src"), readout.first.inner_text()
    expect(readout.first).not_to_have_text(first_text, timeout=30_000)  # the iteration readout advances
    expect(live_image).not_to_have_attribute("src", first_src, timeout=30_000)  # plot and image redraw
    stop.click()
    clicked = time.monotonic()
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="stopped after").first).to_be_visible(timeout=10_000)
    assert time.monotonic() - clicked < 5
    expect(run).to_be_enabled()
    page.locator(f"{OUTPUT} .widget-button", has_text="Save").click()
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="saved").first).to_be_visible(timeout=10_000)
    saved = Image.open(root / "evaluator_result.png")
    assert saved.size == (64, 43)  # the uploaded 3:2 landscape at the notebook's (mocked) 64 px, at full size
    assert_no_errors(page)
    expect(style.locator("select")).to_have_value("starry_night.jpg")


def test_evaluator_on_a_projector_and_a_rejected_upload_twice(lab, tmp_path):
    """At 1280x720 the top row is whole and Run and the live picture are in view together; a
    text file is refused with its name, twice, and the button takes no count."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        try:
            open_notebook(page, lab, "04_evaluator.ipynb")
            run_all(page)
            wait_idle(page, 60_000)
            assert_no_errors(page)
            regions = page.locator(f"{OUTPUT} .widget-checkbox", has_text="paint regions")
            regions.scroll_into_view_if_needed()
            label = regions.locator("span").first
            assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "the checkbox's label is cut off"
            for select in page.locator(f"{OUTPUT} .widget-dropdown select").all()[:3]:
                box = select.bounding_box()
                assert box["x"] + box["width"] <= 1280, box  # the pickers wrap rather than leave the screen
            run = page.locator(f"{OUTPUT} .widget-button", has_text="Run")
            run.evaluate("e => e.scrollIntoView({block: 'start'})")
            live = page.locator(f"{OUTPUT} img").last
            for element in (run, live):
                box = element.bounding_box()
                assert 0 <= box["y"] and box["y"] + box["height"] <= 720, box  # both on screen at once
            page.screenshot(path=str(ARTIFACTS / "evaluator_1280x720.png"))
            text = tmp_path / "notes.txt"
            text.write_text("not a picture")
            button = page.locator(f"{OUTPUT} .widget-upload", has_text="content")
            messages = page.locator(f"{OUTPUT} .widget-html-content", has_text="notes.txt")
            for attempt in range(2):
                with page.expect_file_chooser() as chooser:
                    button.click()
                chooser.value.set_files(str(text))
                expect(messages.first).to_contain_text("notes.txt: not an image", timeout=20_000)
                expect(button).to_have_text(re.compile(r"content( \(0\))?$"))  # not "(1)": nothing was taken
                assert "ImageLoadError" not in messages.first.inner_text()
                if attempt == 0:  # a good picture between, so the second refusal is a new message
                    photo = tmp_path / "red.png"
                    Image.new("RGB", (40, 30), "red").save(photo)
                    with page.expect_file_chooser() as chooser:
                        button.click()
                    chooser.value.set_files(str(photo))
                    expect(messages).to_have_count(0, timeout=20_000)
        finally:
            browser.close()


def drag(page: Page, box: dict, y: float, x0: float = 0.05, x1: float = 0.95) -> None:
    """A left-button drag across the canvas at height fraction `y`."""
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y * box["height"])
    page.mouse.down()
    for t in np.linspace(x0, x1, 12)[1:]:
        page.mouse.move(box["x"] + t * box["width"], box["y"] + y * box["height"])
    page.mouse.up()


def evaluator_with_regions(page: Page, lab) -> None:
    """Notebook 04 run, The Scream as style 2, and regions ticked: the mask painter is shown."""
    open_notebook(page, lab, "04_evaluator.ipynb")
    run_all(page)
    wait_idle(page, 60_000)
    style2 = page.locator(f"{OUTPUT} .widget-dropdown", has=page.locator("label", has_text=re.compile("^style 2$")))
    style2.locator("select").select_option("the_scream.jpg")
    page.locator(f"{OUTPUT} .widget-checkbox", has_text="paint regions").locator("input").check()


def test_evaluator_paints_two_regions_and_each_takes_its_own_painting(page, lab):
    _, _, root = lab
    evaluator_with_regions(page, lab)
    canvas = page.locator(f"{OUTPUT} canvas").last  # the top layer takes the mouse
    expect(canvas).to_be_visible(timeout=20_000)
    page.locator(f"{OUTPUT} .widget-button", has_text="Run").click()  # nothing painted yet: refused
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="paint a region for").first).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 1000, box  # wholly on screen, where the mouse can reach
    for y in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):  # the vault, for the first painting
        drag(page, box, y)
    page.locator(f"{OUTPUT} .widget-toggle-button", has_text="the_scream.jpg").click()
    for y in (0.7, 0.75, 0.8, 0.85, 0.9, 0.95):  # the platform, for the second
        drag(page, box, y)
    page.locator(f"{OUTPUT} .widget-button", has_text="Run").click()
    readout = page.locator(f"{OUTPUT} .widget-html-content", has_text=LIVE_READOUT).first
    expect(readout).to_contain_text(re.compile(r"iteration ([6-9]\d|\d{3})"), timeout=120_000)  # into full size
    page.locator(f"{OUTPUT} .widget-button", has_text="Stop").click()
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="stopped after").first).to_be_visible(timeout=20_000)
    page.locator(f"{OUTPUT} .widget-button", has_text="Save").click()
    expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="saved").first).to_be_visible(timeout=10_000)
    assert_no_errors(page)
    result = np.asarray(Image.open(root / "evaluator_result.png").convert("RGB"), dtype=float)
    photo = np.asarray(Image.open(ROOT / "images" / "u_street_metro.jpg").convert("RGB").resize(
        result.shape[1::-1]), dtype=float)
    paintings = [np.asarray(Image.open(ROOT / "images" / name).convert("RGB"), dtype=float).reshape(-1, 3).mean(0)
                 for name in ("starry_night.jpg", "the_scream.jpg")]
    h = result.shape[0]
    for region, (top, bottom) in enumerate(((0.05, 0.3), (0.7, 0.95))):
        rows = slice(int(top * h), int(bottom * h))
        now, before = result[rows].reshape(-1, 3).mean(0), photo[rows].reshape(-1, 3).mean(0)
        own, other = paintings[region], paintings[1 - region]
        # towards its own painting, and closer to it than to the other painting
        assert np.linalg.norm(now - own) < np.linalg.norm(before - own), region
        assert np.linalg.norm(now - own) < np.linalg.norm(now - other), region


def canvas_ink(canvas) -> float:
    """The mean alpha of a canvas's pixels: 0 for a blank one."""
    return canvas.evaluate("""c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                     let s = 0; for (let i = 3; i < d.length; i += 4) s += d[i];
                                     return s / (d.length / 4); }""")


def canvas_row(canvas, y: float) -> list[float]:
    """The mean RGBA of a canvas's row at height fraction `y`."""
    return canvas.evaluate("""(c, y) => { const r = Math.floor(y * c.height);
                                          const d = c.getContext('2d').getImageData(0, r, c.width, 1).data;
                                          const s = [0, 0, 0, 0];
                                          for (let i = 0; i < d.length; i++) s[i % 4] += d[i];
                                          return s.map(v => v / c.width); }""", y)


def test_the_painter_after_a_reload_shows_the_photo_and_the_strokes(page, lab):
    evaluator_with_regions(page, lab)
    canvases = page.locator(f"{OUTPUT} canvas")
    expect(canvases.last).to_be_visible(timeout=20_000)
    canvases.last.scroll_into_view_if_needed()
    drag(page, canvases.last.bounding_box(), 0.5)
    painted = canvases.last  # the painter draws its layers (photo, strokes) into one canvas here
    before, stroke, photo = canvas_ink(painted), canvas_row(painted, 0.5), canvas_row(painted, 0.2)
    assert before > 0 and max(abs(a - b) for a, b in zip(stroke, photo)) > 20  # the stroke shows
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()  # the outputs, with the widget's view,
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).first.click()  # go to the file
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=20_000)
    page.reload(wait_until="domcontentloaded")
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible(timeout=90_000)
    canvases = page.locator(f"{OUTPUT} canvas")
    expect(canvases.last).to_be_attached(timeout=30_000)
    canvases.last.scroll_into_view_if_needed()
    ink, deadline = 0.0, time.monotonic() + 30
    while time.monotonic() < deadline:  # the kernel hears the new view and draws again: slower on a busy machine
        page.wait_for_timeout(500)
        ink = canvas_ink(canvases.last)
        if ink == pytest.approx(before, rel=0.05):
            break
    assert ink == pytest.approx(before, rel=0.05)  # not a blank canvas, nor strokes alone
    assert canvas_row(canvases.last, 0.5) == pytest.approx(stroke, abs=3)  # the stroke over the photo
    assert canvas_row(canvases.last, 0.2) == pytest.approx(photo, abs=3)  # the photo where none is
    drag(page, canvases.last.bounding_box(), 0.2)  # and the brush still paints in the reloaded page
    repainted, deadline = photo, time.monotonic() + 20
    while time.monotonic() < deadline and max(abs(a - b) for a, b in zip(repainted, photo)) <= 20:
        page.wait_for_timeout(250)
        repainted = canvas_row(canvases.last, 0.2)
    assert max(abs(a - b) for a, b in zip(repainted, photo)) > 20
    assert page.get_by_text("Error displaying widget").count() == 0


TAB10 = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
                  [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]])  # matplotlib's colour cycle


def curve_colours(src: str) -> set[int]:
    """Which of matplotlib's ten cycle colours the live view's loss panel (its left half) draws
    with: each saturated pixel taken as the nearest of them, those of at least 40 pixels kept
    (anti-aliased edges fall between colours and are few)."""
    import base64
    import io

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"), dtype=int)
    left = image[:, : image.shape[1] // 2].reshape(-1, 3)
    saturated = left[(left.max(axis=1) - left.min(axis=1)) > 60]
    distance = np.linalg.norm(saturated[:, None, :] - TAB10[None], axis=2)
    nearest, close = distance.argmin(axis=1), distance.min(axis=1) < 40
    used, counts = np.unique(nearest[close], return_counts=True)
    return {int(i) for i, n in zip(used, counts) if n >= 40}


def test_the_live_view_keeps_each_terms_colour_across_two_runs(page, lab):
    open_notebook(page, lab, "04_evaluator.ipynb")
    run_all(page)
    wait_idle(page, 60_000)
    run = page.locator(f"{OUTPUT} .widget-button", has_text="Run")
    stop = page.locator(f"{OUTPUT} .widget-button", has_text="Stop")
    readout = page.locator(f"{OUTPUT} .widget-html-content", has_text=LIVE_READOUT).first
    live = page.locator(f"{OUTPUT} img").last
    colours = []
    for _ in range(2):
        before = readout.inner_text() if readout.count() else ""
        run.click()
        if before:  # the second run: wait until its own iterations show, not the first run's last
            expect(readout).to_contain_text(re.compile(r"iteration [0-3] "), timeout=60_000)
        expect(readout).to_contain_text(re.compile(r"iteration ([4-9]|\d\d)"), timeout=60_000)
        stop.click()
        expect(page.locator(f"{OUTPUT} .widget-html-content", has_text="stopped after").first).to_be_visible(
            timeout=20_000)
        page.wait_for_timeout(1500)  # the last redraw
        png = live.evaluate("""img => { const c = document.createElement('canvas');
                                         c.width = img.naturalWidth; c.height = img.naturalHeight;
                                         c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL(); }""")
        colours.append(curve_colours(png))
    assert len(colours[0]) >= 5 and colours[1] == colours[0]
