"""`nst-tutorial serve` in Chromium: six visitors at once, each in their own browser context."""

from __future__ import annotations

import base64
import io
import json
import re
import signal
import subprocess
import sys
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

from .test_browser import CHROMIUM, CHROMIUM_ARGS, free_port

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - reported by the fixture below
    sync_playwright = None

COLOURS = [(220, 40, 40), (40, 200, 40), (40, 60, 220), (230, 220, 40), (220, 40, 220), (40, 210, 220)]
SAW_QUEUE = r"""() => { window.sawQueue = false;
  new MutationObserver(() => {
    if (/waiting: \d+\w\w in the queue/.test(document.body.innerText)) window.sawQueue = true;
  }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def photo(colour: tuple[int, int, int]) -> bytes:
    """A photo of one colour with some texture (a painting's texture needs something to hold on to)."""
    rng = np.random.default_rng(sum(colour))
    a = np.clip(np.array(colour)[None, None] + rng.normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def start_serve(*options: str) -> tuple[subprocess.Popen, str, str]:
    """`nst-tutorial serve` on free ports of 127.0.0.1: the process, the class's URL, the teacher's."""
    port = free_port(pair=True)  # the teacher's view listens on the next port
    process = subprocess.Popen([sys.executable, "-m", "nst_tutorial", "serve", "--port", str(port), "--ip",
                                "127.0.0.1", *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [process.stdout.readline() for _ in range(3)]
    match = re.search(r"(http://\S+/teacher\?token=\S+)", "".join(lines))
    assert match, "".join(lines) + (process.stdout.read() if process.poll() is not None else "")
    return process, f"http://127.0.0.1:{port}/", match.group(1)


def stop_serve(process: subprocess.Popen) -> str:
    """Ctrl-C; the one line it prints."""
    process.send_signal(signal.SIGINT)
    out = process.communicate(timeout=60)[0]
    assert process.returncode == 0, out
    assert len(out.strip().splitlines()) == 1, out  # one line, no tracebacks from the pool or the pages
    return out.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if sync_playwright is None:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    # From the photo (not the painting's palette): each picture must keep its own photo's colour to be told apart
    process, url, teacher = start_serve("--size", "48", "--workers", "2", "--scales", "1", "--init", "content",
                                        "--iterations", "40",
                                        "--tolerance", "0", "--style-weight", "0.5")
    yield {"url": url, "teacher": teacher}
    line = stop_serve(process)
    assert re.match(r"nst-tutorial serve: stopped \(visitors: 7, pictures painted: \d+\)", line), line


def upload(page, name: str, mime: str, data: bytes) -> None:
    """Through the real file chooser of the page's "your photo" button."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload", has_text="your photo").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def picture_from_link(page) -> np.ndarray:
    href = page.locator("a[download]").get_attribute("href")
    data = base64.b64decode(href.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def test_six_visitors_each_get_their_own_picture_in_fair_turns(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 1280, "height": 720}).new_page() for _ in COLOURS]
        for page in pages:
            page.goto(server["url"], timeout=120_000)
        for page in pages:
            expect(page.locator(".widget-button", has_text="Run")).to_be_visible(timeout=120_000)
            page.evaluate(SAW_QUEUE)
        # A file that is not an image: one line in its own page, nothing anywhere else.
        upload(pages[4], "notes.txt", "image/png", b"not a picture")
        expect(pages[4].get_by_text("notes.txt: not an image Pillow can read")).to_be_visible(timeout=30_000)
        for i, (page, colour) in enumerate(zip(pages, COLOURS)):
            upload(page, f"photo{i}.jpg", "image/jpeg", photo(colour))
            expect(page.get_by_text(f"photo{i}.jpg: ready")).to_be_visible(timeout=30_000)
        for page in pages:
            page.locator(".widget-button", has_text="Run").click()
        pages[5].locator(".widget-button", has_text="Stop").click()
        leaver = browser.new_context().new_page()  # a seventh visitor presses Run and leaves the page
        leaver.goto(server["url"], timeout=120_000)
        expect(leaver.locator(".widget-button", has_text="Run")).to_be_visible(timeout=120_000)
        leaver.locator(".widget-button", has_text="Run").click()
        expect(leaver.get_by_text(re.compile(r"^waiting: \d+\w\w in the queue"))).to_be_visible(timeout=30_000)
        # Leaving sends the page's last message, on which Voilà shuts the kernel down. (Playwright's
        # page.close does not send it; a page gone without it is found by its missing ticks, 2 min.)
        leaver.goto("about:blank")
        for page in pages[:5]:
            expect(page.get_by_text(re.compile(r"^done in"))).to_be_visible(timeout=180_000)
        expect(pages[5].get_by_text(re.compile(r"^(stopped|cancelled)"))).to_be_visible(timeout=60_000)
        assert all(page.evaluate("window.sawQueue") for page in pages)
        for page in pages:  # Run and the picture in sight together on a projector's 1280x720
            run, picture = (page.locator(".widget-button", has_text="Run").bounding_box(),
                            page.locator(".nst-picture").bounding_box())
            assert run["y"] + run["height"] < 720 and picture["y"] < 720 - 100 and picture["height"] > 100
        assert all(page.get_by_text("not an image").count() == 0 for page in pages[:4] + pages[5:])
        means = [picture_from_link(page).mean(axis=(0, 1)) for page in pages[:5]]
        for i, mean in enumerate(means):  # each picture is of its own visitor's photo, not another's
            nearest = int(np.argmin([np.linalg.norm(mean - np.array(c)) for c in COLOURS]))
            assert nearest == i, (i, mean)
        state = json.loads(urllib.request.urlopen(server["teacher"].replace("/teacher?", "/teacher/state?")).read())
        assert [v["visitor"] for v in state["visitors"]] == [1, 2, 3, 4, 5, 6, 7]
        assert [j["status"] for j in state["visitors"][6]["jobs"]] == ["cancelled"]  # the closed tab's Run
        assert not state["visitors"][6]["present"]
        with_picture = sum(v["picture"] for v in state["visitors"])  # a stopped or cancelled Run may have one
        assert with_picture >= sum(page.locator("a[download]").count() for page in pages) >= 5
        teacher = browser.new_context().new_page()
        teacher.goto(server["teacher"])
        expect(teacher.locator("#sheet img")).to_have_count(with_picture, timeout=30_000)
        expect(teacher.locator("#summary")).to_contain_text("7 visitors")
        with urllib.request.urlopen(server["teacher"].replace("/teacher?", "/teacher/pictures.zip?")) as r:
            names = zipfile.ZipFile(io.BytesIO(r.read())).namelist()
        assert len(names) == with_picture
        forbidden = urllib.request.Request(server["teacher"].replace("/teacher?", "/api/setup?"))
        with pytest.raises(urllib.error.HTTPError, match="403"):  # the pages' API is not for browsers
            urllib.request.urlopen(forbidden)
        browser.close()


def test_serve_sends_the_solves_to_an_existing_dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=":0") as cluster:
        process, url, teacher = start_serve("--scheduler", cluster.scheduler_address, "--size", "48", "--scales", "1",
                                            "--iterations", "5")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url, timeout=120_000)
                page.locator(".widget-button", has_text="Run").click(timeout=120_000)
                expect(page.get_by_text(re.compile(r"^done in"))).to_be_visible(timeout=120_000)
                browser.close()
            assert cluster.scheduler.task_prefixes["nst-classroom"].all_durations["compute"] > 0  # it ran there
        finally:
            line = stop_serve(process)
    assert line.startswith("nst-tutorial serve: stopped (visitors: 1, pictures painted: 1)")


def test_serve_says_in_one_line_when_the_scheduler_cannot_be_reached():
    proc = subprocess.run([sys.executable, "-m", "nst_tutorial", "serve", "--scheduler", f"tcp://127.0.0.1:{free_port()}",
                           "--ip", "127.0.0.1", "--port", str(free_port(pair=True))], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert re.fullmatch(r"nst-tutorial serve: error: cannot reach a Dask scheduler at tcp://127\.0\.0\.1:\d+: .+\n",
                        proc.stderr), proc.stderr
