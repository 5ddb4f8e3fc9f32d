"""The classroom's parts without a browser: the fair queue, uploads, the room on a real Dask pool."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import nst_tutorial as nt
from nst_tutorial.classroom.curve import curve_svg
from nst_tutorial.classroom.queue import FairQueue
from nst_tutorial.classroom.uploads import MAX_UPLOAD_BYTES, read_upload
from nst_tutorial.data import image_path


def test_five_runs_of_one_visitor_do_not_push_another_back_five_places():
    queue = FairQueue()
    for k in range(1, 6):
        queue.put("ann", f"a{k}")
    queue.put("ben", "b1")
    queue.put("cat", "c1")
    queue.put("ben", "b2")
    assert queue.order() == ["a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"]  # round 1, round 2, ...
    assert queue.position("b1") == 2 and queue.position("a5") == 8 and queue.position("x") is None
    taken = [queue.take() for _ in range(3)]
    assert taken == [("ann", "a1"), ("ben", "b1"), ("cat", "c1")]
    queue.put("dan", "d1")  # arrives now: after the visitors already waiting in this round
    assert queue.order() == ["a2", "b2", "d1", "a3", "a4", "a5"]
    assert [queue.take() for _ in range(6)] == [("ann", "a2"), ("ben", "b2"), ("dan", "d1"), ("ann", "a3"),
                                                ("ann", "a4"), ("ann", "a5")]
    assert queue.take() is None and len(queue) == 0


def test_a_stopped_job_and_a_visitor_who_left_leave_the_queue():
    queue = FairQueue()
    for visitor, job in [("ann", "a1"), ("ann", "a2"), ("ben", "b1"), ("ben", "b2")]:
        queue.put(visitor, job)
    assert queue.remove("a2") and not queue.remove("a2")
    assert queue.remove_visitor("ben") == ["b1", "b2"]
    assert queue.order() == ["a1"] and len(queue) == 1


def jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    """Left half red, right half blue, stored as it comes off the sensor, with an EXIF orientation."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:, : width // 2, 0] = 255
    a[:, width // 2:, 2] = 255
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.fromarray(a).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def test_a_phone_photo_is_turned_upright_and_brought_down_to_size():
    # Orientation 6: the camera was turned; shown upright, the picture is rotated 90 degrees
    # clockwise, so the sensor's left (red) half is on top.
    out = Image.open(io.BytesIO(read_upload(jpeg(400, 200, orientation=6), 64)))
    assert out.size == (32, 64) and out.format == "PNG"
    a = np.asarray(out, dtype=int)
    assert a[:24, :, 0].mean() > 200 and a[:24, :, 2].mean() < 50  # red on top
    assert a[40:, :, 2].mean() > 200 and a[40:, :, 0].mean() < 50  # blue below
    small = Image.open(io.BytesIO(read_upload(jpeg(40, 20), 64)))
    assert small.size == (40, 20)  # brought down, never up


def test_uploads_that_cannot_be_painted_get_one_line():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(nt.ImageLoadError, match=r"^IMG_0001.HEIC: a HEIC/HEIF photo.*JPEG"):
        read_upload(heic, 64, "IMG_0001.HEIC")
    with pytest.raises(nt.ImageLoadError, match=r"^notes.txt: not an image Pillow can read$"):
        read_upload(b"hello, this is text", 64, "notes.txt")
    with pytest.raises(nt.ImageLoadError, match=r"^big.jpg is 21 MB; the limit is 20 MB$"):
        read_upload(bytes(MAX_UPLOAD_BYTES + 2**20), 64, "big.jpg")


def test_a_visitors_page_imports_neither_torch_nor_matplotlib():
    code = ("import sys, nst_tutorial.classroom.visitor, nst_tutorial.widgets.painter; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_steps_keep_their_names_whichever_module_loads_first():
    # The package loads its names on first use; a subpackage that imports the `solve` module
    # first must not leave `nt.solve` naming the module instead of the step.
    code = ("import nst_tutorial.cost, nst_tutorial as nt, types; "
            "print(all(callable(f) and not isinstance(f, types.ModuleType) for f in (nt.solve, nt.stylize, "
            "nt.augment)), nt.solve.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "nst_tutorial.solve"]


def test_the_loss_curve_draws_one_line_per_term_on_a_log_scale():
    svg = curve_svg({"style": [1e6, 1e4, 1e2], "total": [2e6, 2e4, 2e2]})
    assert svg.count("<polyline") == 2 and ">1e6<" in svg and ">1e2<" in svg
    first = svg.split("<polyline points='")[1].split("'")[0].split()
    ys = [float(p.split(",")[1]) for p in first]
    assert ys[0] < ys[1] < ys[2] and ys[1] - ys[0] == pytest.approx(ys[2] - ys[1], abs=0.2)  # equal decades
    assert curve_svg({}) == ""


@pytest.fixture(scope="module")
def pool():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_room_runs_visitors_in_turn_stops_and_cancels(pool, tmp_path):
    from nst_tutorial.classroom.requests import Request
    from nst_tutorial.classroom.room import Classroom
    from nst_tutorial.classroom.uploads import read_upload

    config = nt.Config(size=32, iterations=4, scales=(1.0,), style_layers=("conv1_1", "conv2_1"),
                       style_layer_weights=(0.5, 0.5), tolerance=0.0)
    room = Classroom(pool, config, max_size=48, slots=1, threads=1, folder=tmp_path)
    photo = read_upload(image_path("u_street_metro").read_bytes(), 32)
    painting = read_upload(image_path("starry_night").read_bytes(), 32)
    ann, ben = room.join(), room.join()
    a = [room.submit(ann, Request(photo, [painting])).job for _ in range(3)]
    b = room.submit(ben, Request(photo, [painting], {"iterations": 2})).job
    assert [room.jobs[j].state.position for j in [*a, b]] == [1, 3, 4, 2]
    waits = [room.jobs[j].state.wait for j in [a[0], b, a[1]]]
    assert waits[0] == 0 and 0 < waits[1] < waits[2]  # each after the estimated jobs before it
    assert room.stop(ann, a[2]).status == "cancelled" and room.jobs[a[2]].state.position is None
    with pytest.raises(nt.NSTError, match="no such job"):
        room.stop(ben, a[0])  # not ben's
    with pytest.raises(nt.NSTError, match="larger than this class allows"):
        room.submit(ben, Request(photo, [painting], {"size": 64}))
    with pytest.raises(nt.NSTError, match="not open to the class: tv_weight"):
        room.submit(ben, Request(photo, [painting], {"tv_weight": 1.0}))
    started: list[str] = []
    while any(room.jobs[j].state.status in ("queued", "running") for j in [a[0], a[1], b]):
        room.dispatch()
        started += [j.state.job for j in room.running() if j.state.job not in started]
        room.status(ann), room.status(ben)  # the pages are open
        time.sleep(0.05)
    assert started == [a[0], b, a[1]]  # ann's second Run after ben's first
    for job in (a[0], a[1], b):
        assert room.jobs[job].state.status == "done"
        picture = Image.open(io.BytesIO(room.picture(room.jobs[job].visitor, job)))
        assert picture.size == (24, 32)
        assert (tmp_path / room.jobs[job].visitor / f"{job}.png").read_bytes() == room.jobs[job].image
        assert room.jobs[job].request is None and room.jobs[job].future is None  # nothing held on to
    assert room.jobs[a[2]].request is None  # nor for the Run cancelled in the queue
    assert room.jobs[b].state.iteration == 2 and len(room.jobs[b].state.history["total"]) == 2  # ben's setting
    assert room.jobs[a[0]].state.iteration == 4 and len(room.jobs[a[0]].state.history["total"]) == 4


def test_a_visitor_who_goes_quiet_has_their_jobs_cancelled(pool, tmp_path):
    from nst_tutorial.classroom.requests import Request
    from nst_tutorial.classroom.room import Classroom

    config = nt.Config(size=32, iterations=200, scales=(1.0,), tolerance=0.0)
    room = Classroom(pool, config, max_size=32, slots=1, threads=1, folder=tmp_path, patience=1.0)
    photo = read_upload(image_path("u_street_metro").read_bytes(), 32)
    ann = room.join()
    running, waiting = (room.submit(ann, Request(photo, [photo])).job for _ in range(2))
    room.dispatch()
    assert room.jobs[running].state.status == "running"
    wait_for(lambda: room.dispatch() or room.jobs[running].state.status != "running", 60)  # ann's page is silent
    assert room.jobs[running].state.status == "cancelled" and room.jobs[waiting].state.status == "cancelled"
    assert room.latest(ann) is not None  # what it painted is kept for the teacher


def test_stop_ends_a_running_job_and_keeps_its_best_picture(pool, tmp_path):
    from nst_tutorial.classroom.requests import Request
    from nst_tutorial.classroom.room import Classroom

    config = nt.Config(size=32, iterations=500, scales=(1.0,), tolerance=0.0)
    room = Classroom(pool, config, max_size=32, slots=1, threads=1, folder=tmp_path)
    photo = read_upload(image_path("u_street_metro").read_bytes(), 32)
    ann = room.join()
    job = room.submit(ann, Request(photo, [photo])).job

    def painting() -> bool:
        room.dispatch()
        return room.jobs[job].state.picture > 0  # a live picture has come back from the worker

    wait_for(painting)
    assert room.stop(ann, job).status == "running"  # until the worker sees it, at its next iteration
    wait_for(lambda: room.dispatch() or room.jobs[job].state.status != "running")
    state = room.jobs[job].state
    assert state.status == "stopped" and 0 < state.iteration < 500
    assert Image.open(io.BytesIO(room.picture(ann, job))).size == (24, 32)
