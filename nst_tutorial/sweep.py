"""Many solves at once: jobs of (content, styles, Config) on any `concurrent.futures.Executor`.

The driver reads each job's image files and sends their bytes, so a worker needs no shared
folder (a remote Dask cluster works as a local pool does). A worker runs `stylize`, the one
solve path, on a VGG19 it builds once and keeps, scores the 8-bit picture with `metrics.Judge`,
and sends back the picture, its loss history and the scores. Only the driver writes files:
`<content>-<style>-<hash>.png` and `.json` beside it, the hash taken over the images' bytes and
every setting, so a sweep run again skips what already exists.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from .config import Config
from .data import resolve_image
from .errors import ConfigError, NSTError, OutputPathError
from .images import ImageSource, load_image, to_pil
from .metrics import Judge, Scores
from .pipeline import pick_device, stylize
from .solve import StopFlag, stop_requested
from .vgg import build_vgg19

FORMAT = 1  # bump when a change makes earlier outputs stale: it is part of every job's hash


@dataclass(frozen=True)
class Job:
    """One solve: a content image, its style(s) (several are blended) and the settings.

    Images are files, or bundled images by name (`data.resolve_image`).
    """

    content: ImageSource
    styles: tuple[ImageSource, ...]
    config: Config = field(default_factory=Config)
    label: str = ""  # names the settings, e.g. "content_weight=1" (a column of the contact sheet)

    def __post_init__(self) -> None:
        styles = self.styles
        object.__setattr__(self, "styles", tuple(styles) if isinstance(styles, (list, tuple)) else (styles,))
        if not self.styles:
            raise ConfigError("a job needs at least one style image")

    @property
    def pair(self) -> str:
        """"<content> / <style>[+<style>...]": a row of the contact sheet."""
        return f"{stem(self.content)} / {'+'.join(stem(s) for s in self.styles)}"

    @property
    def name(self) -> str:
        return f"{self.pair} / {self.label}" if self.label else self.pair


@dataclass
class JobResult:
    """What one job produced, or why it failed (`error`); the sweep goes on either way."""

    job: Job
    key: str = ""  # the job's hash: its files are `path` and `path.with_suffix(".json")`
    path: Path | None = None  # the 8-bit picture written
    image: Tensor | None = None  # that picture, (1, 3, H, W) in [0, 1]
    history: dict[str, list[float]] = field(default_factory=dict)  # term -> loss per iteration
    iterations: list[int] = field(default_factory=list)  # iteration numbers, counted across stages
    seconds: float = 0.0  # the solve's wall time in its worker
    scores: Scores | None = None  # `metrics.Judge` scores of the 8-bit picture (single-style jobs)
    error: str | None = None  # one line when the job failed
    resumed: bool = False  # read back from an earlier sweep's files, not solved again
    worker: int | None = None  # process id of the worker that solved it
    built_network: bool = False  # this job built its worker's VGG19 (the first job there did)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total(self) -> list[float]:
        return self.history.get("total", [])

    @property
    def losses(self) -> dict[str, float]:
        """Each loss term's last value."""
        return {term: values[-1] for term, values in self.history.items() if values}


def jobs(contents: Sequence[str | os.PathLike[str]], styles: Sequence[str | os.PathLike[str] | Sequence],
         configs: Config | dict[str, Config]) -> list[Job]:
    """Every content x every style x every config; a style that is a sequence is a blend.

    `configs` is one Config or `{label: Config}` (e.g. `grid.configs(base, {...})`).
    """
    named = configs if isinstance(configs, dict) else {"": configs}
    out: list[Job] = []
    for content in contents:
        for style in styles:
            blend = tuple(style) if isinstance(style, (list, tuple)) else (style,)
            out.extend(Job(content, blend, config, label) for label, config in named.items())
    return out


def local_pool(workers: int | None = None, threads: int | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers x torch threads equals the cores (default: one thread each).

    Workers start with `spawn`: forking a process whose OpenMP threads have run can hang. A
    script that makes a pool needs the usual `if __name__ == "__main__":` guard.
    """
    cores = _cores()
    workers = workers or cores
    threads = threads or max(1, cores // workers)
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=torch.set_num_threads,
                               initargs=(threads,))


def sweep(jobs: Iterable[Job], executor: Executor | None = None, *, out: str | os.PathLike[str] | None = None,
          score: bool = True, stop: StopFlag = None, progress: bool = True) -> Iterator[JobResult]:
    """Solve every job and yield each `JobResult` as it finishes, with a progress bar over jobs.

    `executor` is any `concurrent.futures.Executor`, e.g. `dask.distributed.Client(...).get_executor()`;
    the default is `local_pool` with as many workers as cores, jobs and memory allow. Results
    are written to `out` (default: a new temporary folder); a job whose files exist there is
    read back, not solved again. A failing job (a missing file, bytes that are not an image)
    yields a result with `error` and the others go on. A set `stop` (an Event or a callable)
    starts no more jobs and lets the running ones finish; breaking out of the loop or Ctrl-C
    cancels what has not started. Raises `ConfigError` for an empty job list or an executor
    that is not an Executor.
    """
    jobs = list(jobs)
    if not jobs:
        raise ConfigError("the sweep has no jobs: give at least one content, one style and one setting")
    if not all(isinstance(j, Job) for j in jobs):
        raise ConfigError("a sweep takes nst_tutorial.sweep.Job items")
    if executor is not None and not isinstance(executor, Executor):
        raise ConfigError(f"executor must be a concurrent.futures.Executor (for Dask: Client(...).get_executor()), "
                          f"not {type(executor).__name__}")
    folder = _folder(out)
    with tqdm(total=len(jobs), desc="sweep", unit="job", disable=not progress) as bar:
        todo = yield from _known(jobs, folder, score, bar)
        if todo:
            yield from _solve(todo, executor, folder, stop, bar)


Todo = list[tuple[Job, str, "_Payload"]]


def _known(jobs: list[Job], folder: Path, score: bool, bar: tqdm) -> Generator[JobResult, None, Todo]:
    """Yield the jobs that failed before they started (a missing file) or that `folder` already
    holds; return the others, each with its hash and what travels to its worker."""
    todo: Todo = []
    for job in jobs:
        try:
            payload = _payload(job, score)
        except NSTError as exc:
            yield _finish(bar, JobResult(job, error=str(exc)))
            continue
        key = job_key(payload)
        done = _read_back(folder, job, key)
        if done is not None:
            yield _finish(bar, done)
        else:
            todo.append((job, key, payload))
    return todo


def _solve(todo: Todo, executor: Executor | None, folder: Path, stop: StopFlag, bar: tqdm) -> Iterator[JobResult]:
    """Submit every job, yield each as it finishes; on `stop`, cancel what has not started."""
    pool = executor or local_pool(default_workers([job.config for job, _, _ in todo]))
    futures: dict[Future, tuple[Job, str]] = {}
    complete = False
    try:
        futures = {pool.submit(run_job, payload): (job, key) for job, key, payload in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if stop_requested(stop):
                pending = {f for f in pending if not f.cancel()}  # the running ones finish and are kept
            for future in finished:
                if not future.cancelled():
                    yield _finish(bar, _collect(future, *futures[future], folder))
        complete = True
    finally:
        for future in futures:
            future.cancel()
        if executor is None:
            _close(pool, complete)


def _close(pool: Executor, complete: bool) -> None:
    """Shut our own pool down; after Ctrl-C or a `break`, end the jobs still running too, or the
    process would wait for them at exit."""
    if not complete:
        for process in list(getattr(pool, "_processes", {}).values()):  # no public way before Python 3.14
            process.terminate()
    pool.shutdown(wait=complete, cancel_futures=True)


def default_workers(configs: Sequence[Config]) -> int:
    """As many workers as cores, but no more than there are jobs, or than the memory holds
    at the largest job's estimated peak (`cost.estimate`, this machine's calibration if cached)."""
    from . import cost  # imported here: the estimator is only needed for the default pool

    largest = max(configs, key=lambda c: c.size)
    peak = cost.estimate(largest, largest.size, cost.calibrate(largest, measure=False)).peak_mb
    fits = int(cost.available_memory_mb() // peak) if peak > 0 else len(configs)
    return max(1, min(_cores(), len(configs), fits))


def job_key(payload: _Payload) -> str:
    """A hash of what decides the picture: the images' bytes and every setting."""
    h = hashlib.sha256(f"nst-tutorial sweep {FORMAT}".encode())
    for data in (payload.content, *payload.styles):
        h.update(hashlib.sha256(data).digest())
    h.update(json.dumps(asdict(payload.config), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class _Payload:
    """What travels to a worker: the images' bytes, so it needs no access to the driver's files."""

    content: bytes
    styles: tuple[bytes, ...]
    config: Config
    score: bool


@dataclass(frozen=True)
class _Outcome:
    """What travels back: the 8-bit picture (H, W, 3) and what the solve recorded."""

    image: np.ndarray
    history: dict[str, list[float]]
    iterations: list[int]
    seconds: float
    scores: Scores | None
    worker: int
    built_network: bool


def run_job(payload: _Payload) -> _Outcome:
    """In a worker: solve one job on the worker's VGG19 and score the 8-bit picture."""
    _reuse_freed_memory()
    config = payload.config
    device = pick_device(config.device)
    builds = _network.cache_info().misses
    net = _network(config.weights, config.pooling, config.fast_conv, config.ceil_mode, str(device))
    built = _network.cache_info().misses > builds
    start = time.perf_counter()
    result = stylize(payload.content, list(payload.styles), config, progress=False, net=net)
    seconds = time.perf_counter() - start
    image = (result.image[0].clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy()
    scores = None
    if payload.score and len(payload.styles) == 1:
        scores = _judge(payload.content, payload.styles[0]).score(image)
    return _Outcome(image, result.history, result.iterations, seconds, scores, os.getpid(), built)


@functools.lru_cache(maxsize=1)
def _reuse_freed_memory() -> None:
    """Undo, in this process, what `MALLOC_TRIM_THRESHOLD_` does to glibc, once.

    Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's mmap
    threshold at 128 KiB: every activation then becomes a fresh mapping, faulted in page by page
    on every iteration (1.55x slower at 128 px here). Set the two thresholds to glibc's usual
    settled values instead: freed blocks up to 32 MiB are reused, and the heap trimmed past 64 MiB.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): nothing to undo
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 64 * 2**20)


@functools.lru_cache(maxsize=8)
def _judge(content: bytes, style: bytes) -> Judge:
    """One Judge per photo and painting in this worker: a gallery's jobs share its references."""
    return Judge(content, style, net=_network("caffe", "max", True, False, "cpu"))


@functools.lru_cache(maxsize=4)
def _network(weights: str, pooling: str, fast_conv: bool, ceil_mode: bool, device: str) -> torch.nn.Sequential:
    """The whole VGG19, built once per worker process and kept: `augment` cuts it per job."""
    return build_vgg19(weights, pooling, "pool5", fast_conv, ceil_mode).to(device)


def _payload(job: Job, score: bool) -> _Payload:
    def read(source: ImageSource) -> bytes:
        if isinstance(source, (str, os.PathLike)):
            return resolve_image(source).read_bytes()
        if isinstance(source, bytes):
            return source
        png = io.BytesIO()  # an image in memory travels as an 8-bit PNG
        to_pil(load_image(source)).save(png, format="PNG")
        return png.getvalue()

    return _Payload(read(job.content), tuple(read(s) for s in job.styles), job.config, score)


def _collect(future: Future, job: Job, key: str, folder: Path) -> JobResult:
    """The finished job's result, its picture and record written to `folder`."""
    try:
        outcome: _Outcome = future.result()
    except Exception as exc:  # noqa: BLE001 - any job's failure is reported, not raised
        return JobResult(job, key, error=_one_line(exc))
    path = folder / f"{_slug(job)}-{key}.png"
    Image.fromarray(outcome.image).save(path)
    result = JobResult(job, key, path, load_image(outcome.image), outcome.history, outcome.iterations,
                       outcome.seconds, outcome.scores, worker=outcome.worker, built_network=outcome.built_network)
    path.with_suffix(".json").write_text(json.dumps(record(result), indent=1))
    return result


def record(result: JobResult) -> dict:
    """A result as JSON-ready data: the job, its settings, losses, scores and files."""
    job = result.job
    return {"name": job.name, "settings": job.label, "content": str(job.content),
            "styles": [str(s) for s in job.styles],
            "config": asdict(job.config), "key": result.key, "image": result.path.name if result.path else None,
            "error": result.error, "seconds": result.seconds, "iterations": result.iterations,
            "history": result.history, "scores": result.scores.as_dict() if result.scores else None}


def _read_back(folder: Path, job: Job, key: str) -> JobResult | None:
    """An earlier sweep's result for this job, if both its files are there and readable."""
    matches = sorted(folder.glob(f"*-{key}.png"))
    if not matches or not matches[0].with_suffix(".json").is_file():
        return None
    path = matches[0]
    try:
        data = json.loads(path.with_suffix(".json").read_text())
        scores = Scores(**data["scores"]) if data.get("scores") else None
        return JobResult(job, key, path, load_image(path), data["history"], data["iterations"], data["seconds"],
                         scores, resumed=True)
    except (NSTError, ValueError, KeyError, TypeError):
        return None  # damaged: solve it again


def _finish(bar: tqdm, result: JobResult) -> JobResult:
    bar.update(1)
    if not result.ok and not bar.disable:
        tqdm.write(f"sweep: {result.job.name}: failed: {result.error}", file=sys.stderr)
    return result


def _folder(out: str | os.PathLike[str] | None) -> Path:
    if out is None:
        return Path(tempfile.mkdtemp(prefix="nst-sweep-"))
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{folder}: cannot write the sweep's results there ({exc.strerror})") from None
    return folder


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text and isinstance(exc, NSTError) else f"{type(exc).__name__}: {text[0] if text else ''}"


def stem(source: ImageSource) -> str:
    """A file's name without its suffix; "image" for an image in memory."""
    return Path(source).stem if isinstance(source, (str, os.PathLike)) else "image"


def _slug(job: Job) -> str:
    text = f"{stem(job.content)}-{'+'.join(stem(s) for s in job.styles)}"
    return re.sub(r"[^A-Za-z0-9_+.-]+", "_", text)[:80]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
