"""Sweeps: many jobs on a local pool or a Dask cluster, matching the one solve path, resumable."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial import batch
from nst_tutorial.batch import grid, job as batch_jobs
from nst_tutorial.data import image_path
from nst_tutorial.errors import ConfigError
from nst_tutorial.batch import Job, JobResult
from nst_tutorial.batch.report import contact_sheet

CFG = nt.Config(size=32, iterations=4, coarse_iterations=2, scales=(0.5, 1.0), device="cpu")
SETTINGS = {"cw 0.2": CFG, "cw 2": replace(CFG, content_weight=2.0)}


def small_jobs() -> list[Job]:
    return batch.jobs(["u_street_metro", "coffee"], ["starry_night"], SETTINGS)


def losses(results: list[JobResult]) -> dict[str, float]:
    return {r.job.name: r.total[-1] for r in results}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[JobResult]]:
    """The small sweep on a local pool of 2 workers x 1 thread, plus one job whose file is missing."""
    out = tmp_path_factory.mktemp("sweep")
    jobs = [*small_jobs(), Job("no_such_photo.jpg", ("starry_night",), CFG)]
    with batch.local_pool(2, 1) as pool:
        return out, list(batch.sweep(jobs, pool, out=out, progress=False))


def test_sweep_runs_the_one_solve_path(local_run: tuple[Path, list[JobResult]]) -> None:
    """Each job's losses and picture are what `stylize` gives in this process for the same job."""
    _, results = local_run
    ok = [r for r in results if r.ok]
    assert len(ok) == 4
    for r in ok:
        direct = nt.stylize(image_path(str(r.job.content)), [image_path(str(s)) for s in r.job.styles],
                            r.job.config, progress=False)
        assert r.iterations == direct.iterations
        assert r.total[-1] == pytest.approx(direct.total[-1], rel=1e-4)
        expected = (direct.image.clamp(0, 1) * 255).round() / 255  # the 8-bit file
        assert r.image is not None and (r.image - expected).abs().max() <= 1 / 255 + 1e-6
        assert r.scores is not None and 0 < r.scores.content_fidelity <= 1


def test_a_missing_file_is_reported_and_the_others_run(local_run: tuple[Path, list[JobResult]]) -> None:
    _, results = local_run
    failed = [r for r in results if not r.ok]
    assert [r.job.content for r in failed] == ["no_such_photo.jpg"]
    assert "no_such_photo.jpg: no such file" in failed[0].error
    assert failed[0].image is None and sum(r.ok for r in results) == 4


def test_the_network_is_built_once_per_worker(local_run: tuple[Path, list[JobResult]]) -> None:
    _, results = local_run
    ok = [r for r in results if r.ok]
    workers = {r.worker for r in ok}
    assert sum(r.built_network for r in ok) == len(workers)
    assert len(workers) <= 2 and all(w is not None for w in workers)


def test_outputs_are_named_by_hash_and_a_rerun_resumes(local_run: tuple[Path, list[JobResult]]) -> None:
    out, first = local_run
    for r in first:
        if r.ok:
            assert r.path is not None and r.path.parent == out and r.key in r.path.name
            assert json.loads(r.path.with_suffix(".json").read_text())["key"] == r.key
    # An executor that cannot run anything: every finished job must be read back, not solved.
    with ThreadPoolExecutor(1) as never:
        never.shutdown()
        again = list(batch.sweep(small_jobs(), never, out=out, progress=False))
    assert all(r.resumed for r in again)
    assert losses(again) == losses([r for r in first if r.ok])
    before = {r.key: r.image for r in first if r.ok}
    for r in again:
        assert r.image is not None and torch.equal(r.image, before[r.key])
    changed = Job("coffee", ("starry_night",), replace(CFG, seed=1))
    assert batch_jobs.job_key(batch_jobs.make_payload(changed, True)) not in before  # another setting, another file


def test_a_dask_local_cluster_gives_the_local_results(local_run: tuple[Path, list[JobResult]]) -> None:
    distributed = pytest.importorskip("distributed", reason="the test extra installs dask[distributed]")
    _, local = local_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = list(batch.sweep(small_jobs(), client.get_executor(), progress=False))
    assert all(r.ok for r in on_dask) and len(on_dask) == 4
    expected = losses([r for r in local if r.ok])
    for name, value in losses(on_dask).items():
        assert math.isclose(value, expected[name], rel_tol=1e-4), name


def test_a_stop_starts_no_more_jobs_and_a_rerun_finishes(tmp_path: Path) -> None:
    jobs = batch.jobs(["u_street_metro", "coffee", "astronaut"], ["starry_night", "the_scream"], CFG)
    with batch.local_pool(1, 1) as pool:
        stopped = list(batch.sweep(jobs, pool, out=tmp_path, stop=lambda: True, progress=False))
        assert 0 < len(stopped) < len(jobs) and all(r.ok for r in stopped)
        rest = list(batch.sweep(jobs, pool, out=tmp_path, progress=False))
    assert sum(r.resumed for r in rest) == len(stopped) and len(rest) == len(jobs)


def test_bad_sweeps_get_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no jobs"):
        list(batch.sweep([]))
    with pytest.raises(ConfigError, match="concurrent.futures.Executor"):
        list(batch.sweep(small_jobs(), executor="dask"))  # type: ignore[arg-type]
    bad = tmp_path / "grid.json"
    for text, message in [("{content_weight: [1]", "not JSON"), ("[1, 2]", "JSON object"),
                          ('{"contentweight": [1]}', "not a setting"), ('{"size": []}', "non-empty list"),
                          ('{"size": [8]}', "size must be")]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            grid.configs(CFG, grid.load_grid(bad))
    with pytest.raises(ConfigError, match="cannot read the grid file"):
        grid.load_grid(tmp_path / "missing.json")


def test_a_grid_is_every_combination() -> None:
    made = grid.configs(CFG, {"content_weight": [0.1, 1.0], "scales": [[1], [0.5, 1]]})
    assert list(made) == ["content_weight=0.1, scales=1", "content_weight=0.1, scales=0.5,1",
                          "content_weight=1, scales=1", "content_weight=1, scales=0.5,1"]
    assert made["content_weight=1, scales=0.5,1"].scales == (0.5, 1.0)
    assert made["content_weight=0.1, scales=1"].content_weight == 0.1
    assert grid.configs(CFG, {}) == {"": CFG}


def test_the_contact_sheet_has_a_row_per_pair_and_a_column_per_setting() -> None:
    def result(content: str, label: str, colour: tuple[float, float, float] | None) -> JobResult:
        image = None if colour is None else torch.tensor(colour).view(1, 3, 1, 1).expand(1, 3, 20, 40).clone()
        return JobResult(Job(content, ("starry_night",), CFG, label), image=image, error=None if image is not None
                         else "failed")

    results = [result("a", "x", (1, 0, 0)), result("a", "y", (0, 1, 0)), result("b", "x", (0, 0, 1)),
               result("b", "y", None)]
    sheet = contact_sheet(results, thumb=50)
    pixels = sheet.load()
    left = sheet.width - 2 * 54
    centre = [(left + c * 54 + 25, sheet.height - (2 - r) * 54 + 25) for r in range(2) for c in range(2)]
    assert [pixels[xy] for xy in centre[:3]] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert pixels[centre[3][0] + 20, centre[3][1] - 20] == (200, 200, 200)  # the failed job's grey tile


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_tutorial", "sweep", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_sweep_writes_pictures_sheet_and_table(tmp_path: Path) -> None:
    (tmp_path / "grid.json").write_text('{"content_weight": [0.2, 2]}')
    done = run_cli("-c", "coffee", "missing.jpg", "-s", "starry_night", "the_scream+great_wave", "--grid",
                   "grid.json", "--size", "32", "-n", "3", "--single-scale", "--workers", "2", "-o", "out", "-q",
                   cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 4 and all("missing.jpg: no such file" in line for line in errors)
    assert "Traceback" not in done.stderr
    out = tmp_path / "out"
    assert (out / "sweep.png").is_file() and len(list(out.glob("coffee-*.png"))) == 4
    rows = (out / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 and "content_weight" in rows[0] and "content_fidelity" in rows[0]
    records = json.loads((out / "sweep.json").read_text())
    scored = [r for r in records if r["error"] is None]
    assert len(scored) == 4 and all(r["config"]["size"] == 32 for r in scored)
    assert all(r["scores"] is not None for r in scored if len(r["styles"]) == 1)
    assert all(r["scores"] is None for r in scored if len(r["styles"]) == 2)  # a blend has no one painting


@pytest.mark.parametrize("args, message", [
    (["--grid", "nope.json"], "nope.json: cannot read the grid file"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--size", "8"], "size must be"),
])
def test_cli_sweep_bad_settings_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"nst-tutorial sweep: error: {done.stderr.split('error: ', 1)[1]}"
                                                .strip()]
    assert message in done.stderr and not (tmp_path / "sweep").exists()


def test_ending_workers_without_the_private_api_warns_and_leaves_the_jobs_running():
    from concurrent.futures import ThreadPoolExecutor

    from nst_tutorial.batch import pool

    done = threading.Event()
    with ThreadPoolExecutor(1) as threads:  # no terminate_workers, no _processes: the public path only
        future = threads.submit(done.wait, 5)
        with pytest.warns(RuntimeWarning, match="cannot end the running workers"):
            pool.terminate_workers(threads)
        done.set()
        assert future.result(timeout=5) is True  # it ran to its end


def test_ending_workers_of_a_local_pool_stops_a_running_job():
    import time

    from nst_tutorial.batch import pool

    workers = pool.local_pool(1, 1)
    future = workers.submit(time.sleep, 60)
    while not future.running():
        time.sleep(0.05)
    start = time.monotonic()
    pool.shutdown(workers, complete=False)
    assert time.monotonic() - start < 20
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):  # the worker was killed, not waited for
        future.result(timeout=20)


def test_ctrl_c_during_a_sweep_ends_it_without_a_leaked_semaphore_warning(tmp_path):
    """Ctrl-C ends the workers mid-job; nothing they made may be left for the resource tracker."""
    import signal
    import time

    (tmp_path / "grid.json").write_text('{"iterations": [1, 4000, 4001]}')
    proc = subprocess.Popen([sys.executable, "-m", "nst_tutorial", "sweep", "-c", "coffee", "-s", "starry_night",
                             "--grid", str(tmp_path / "grid.json"), "--size", "32", "--single-scale",
                             "--tolerance", "0", "--workers", "2", "--no-score", "-q", "-o", str(tmp_path / "out")],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "out").glob("*.png")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # the short job is written: its worker has solved, the long ones are running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert re.search(r"stopped; [01] finished", err)  # the short job, if it was collected before the signal
    assert "leaked" not in err and "Traceback" not in err, err
