"""Many solves at once: jobs of (content, styles, Config) on any `concurrent.futures.Executor`.

The driver reads each job's image files and sends their bytes, so a worker needs no shared
folder (a remote Dask cluster works as a local pool does). A worker runs `stylize`, the one
solve path, on a VGG19 it builds once and keeps, scores the 8-bit picture with `judge.Judge`,
and sends back the picture, its loss history and the scores. Only the driver writes files:
`<content>-<style>-<hash>.png` and `.json` beside it, the hash taken over the images' bytes and
every setting, so a sweep run again skips what already exists.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ..errors import ConfigError, NSTError, OutputPathError
from ..images import load_image
from ..judge import Scores
from ..solve import StopFlag, stop_requested
from .job import Job, JobResult, Payload, job_key, make_payload, record, slug
from .pool import default_workers, local_pool, shutdown
from .worker import Outcome, run_job

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
        raise ConfigError("a sweep takes nst_tutorial.batch.Job items")
    if executor is not None and not isinstance(executor, Executor):
        raise ConfigError(f"executor must be a concurrent.futures.Executor (for Dask: Client(...).get_executor()), "
                          f"not {type(executor).__name__}")
    folder = _folder(out)
    with tqdm(total=len(jobs), desc="sweep", unit="job", disable=not progress) as bar:
        todo = yield from _known(jobs, folder, score, bar)
        if todo:
            yield from _solve(todo, executor, folder, stop, bar)


Todo = list[tuple[Job, str, "Payload"]]


def _known(jobs: list[Job], folder: Path, score: bool, bar: tqdm) -> Generator[JobResult, None, Todo]:
    """Yield the jobs that failed before they started (a missing file) or that `folder` already
    holds; return the others, each with its hash and what travels to its worker."""
    todo: Todo = []
    for job in jobs:
        try:
            payload = make_payload(job, score)
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
            shutdown(pool, complete)



def _collect(future: Future, job: Job, key: str, folder: Path) -> JobResult:
    """The finished job's result, its picture and record written to `folder`."""
    try:
        outcome: Outcome = future.result()
    except Exception as exc:  # noqa: BLE001 - any job's failure is reported, not raised
        return JobResult(job, key, error=_one_line(exc))
    path = folder / f"{slug(job)}-{key}.png"
    Image.fromarray(outcome.image).save(path)
    result = JobResult(job, key, path, load_image(outcome.image), outcome.history, outcome.iterations,
                       outcome.seconds, outcome.scores, worker=outcome.worker, built_network=outcome.built_network)
    path.with_suffix(".json").write_text(json.dumps(record(result), indent=1))
    return result



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


