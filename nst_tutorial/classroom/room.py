"""The server's side of a class: the fair queue, the jobs on the Dask pool, each visitor's pictures.

`Classroom` is driven by `web`'s routes (one call per page request) and by its own dispatcher
thread, which starts queued jobs when a worker is free, copies each running job's live view from
the workers, and ends the jobs of visitors whose page has gone quiet (a closed tab).
"""

from __future__ import annotations

import io
import statistics
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed import Client, Event, Future, Variable
from PIL import Image

from .. import cost
from ..config import Config
from ..errors import NSTError
from .paint import paint, progress_name, stop_name
from .queue import FairQueue
from .requests import SETTINGS, JobState, Request

FINISHED = ("done", "stopped", "cancelled", "failed")


@dataclass
class Job:
    """One press of Run, from the queue to its picture."""

    visitor: str
    request: Request | None  # the pictures and settings, let go once the job is on the pool or cancelled
    config: Config
    state: JobState
    future: Future | None = None
    started: float | None = None  # time.monotonic() when it went to a worker
    image: bytes | None = None  # the newest picture: live while it runs, then the result (PNG)
    stop_requested: bool = False
    submitted: float = field(default_factory=time.monotonic)
    cancelled: bool = False  # its visitor left while it ran: the picture is kept for the teacher only


@dataclass
class Visitor:
    seen: float  # time.monotonic() of the page's last request
    jobs: list[str] = field(default_factory=list)
    number: int = 0  # 1, 2, ... in order of arrival: how the teacher's view names them
    left: bool = False  # their page closed (or went quiet)


class Classroom:
    """Jobs from many visitors, solved `slots` at a time on `client`'s workers, in fair turns.

    `config` is the class's Config; a visitor may change the fields in `requests.SETTINGS`, up to
    `max_size` pixels. Results are PNG files under `folder`, one folder per visitor. A visitor not
    heard from for `patience` seconds has left: their jobs are cancelled.
    """

    def __init__(self, client: Client, config: Config, max_size: int, slots: int, threads: int, folder: Path,
                 patience: float = 15.0) -> None:
        self.client, self.config, self.max_size = client, config, max_size
        self.slots, self.threads, self.folder, self.patience = slots, threads, folder, patience
        self.queue = FairQueue()
        self.jobs: dict[str, Job] = {}
        self.visitors: dict[str, Visitor] = {}
        self.calibration = cost.calibrate(config, measure=False)
        self.ratios: list[float] = []  # measured / estimated seconds of finished jobs: this pool's speed
        self.lock = threading.RLock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._dispatch_forever, name="classroom-dispatcher", daemon=True)

    def start(self) -> Classroom:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        for job in self.running():
            self._ask_to_stop(job)

    # -- what a visitor's page asks -------------------------------------------------------------

    def join(self) -> str:
        """A new visitor's id: unguessable, so one page cannot ask for another's pictures."""
        visitor = uuid.uuid4().hex
        with self.lock:
            self.visitors[visitor] = Visitor(time.monotonic(), number=len(self.visitors) + 1)
        return visitor

    def submit(self, visitor: str, request: Request) -> JobState:
        """Queue one Run; `NSTError` (one line) for settings the class does not allow."""
        config = self.settings(request.settings)
        job_id = uuid.uuid4().hex[:12]
        with Image.open(io.BytesIO(request.content)) as photo:
            seconds = self.seconds(config, (photo.height, photo.width))
        state = JobState(job_id, "queued", seconds=seconds)
        with self.lock:
            self._visitor(visitor).jobs.append(job_id)
            self.jobs[job_id] = Job(visitor, request, config, state)
            self.queue.put(visitor, job_id)
            self._update_waits()
            state = self.jobs[job_id].state = replace(self.jobs[job_id].state,
                                                      queued_at=self.jobs[job_id].state.position)
        return state

    def stop(self, visitor: str, job_id: str) -> JobState:
        """Stop one job: a queued one leaves the queue; a running one ends and keeps its best picture."""
        with self.lock:
            job = self._own(visitor, job_id)
            if job.state.status == "queued" and self.queue.remove(job_id):
                job.state, job.request = replace(job.state, status="cancelled", position=None, wait=None), None
                self._update_waits()
            elif job.state.status == "running":
                self._ask_to_stop(job)
            return job.state

    def status(self, visitor: str) -> list[JobState]:
        """The visitor's jobs, newest last, without their loss histories (`job` has them); also
        tells the room the page is still open."""
        with self.lock:
            return [replace(self.jobs[j].state, history={}) for j in self._visitor(visitor).jobs]

    def job(self, visitor: str, job_id: str) -> JobState:
        """One of the visitor's jobs, with its loss histories."""
        with self.lock:
            return self._own(visitor, job_id).state

    def picture(self, visitor: str, job_id: str) -> bytes | None:
        """The job's newest picture (PNG): live while it runs, then the result."""
        with self.lock:
            return self._own(visitor, job_id).image

    def leave(self, visitor: str) -> None:
        """The visitor's page closed: cancel what waits, stop what runs."""
        with self.lock:
            if visitor not in self.visitors:
                return
            for job_id in self.queue.remove_visitor(visitor):
                job = self.jobs[job_id]
                job.state, job.request = replace(job.state, status="cancelled", position=None, wait=None), None
            for job in self.running():
                if job.visitor == visitor:
                    job.cancelled = True
                    self._ask_to_stop(job)
            self.visitors[visitor].left = True
            self._update_waits()

    def settings(self, settings: dict[str, Any]) -> Config:
        """The class's Config with a visitor's changes; `NSTError` for one it does not allow."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise NSTError(f"these settings are not open to the class: {', '.join(unknown)}")
        size = int(settings.get("size", self.config.size))
        if size > self.max_size:
            raise NSTError(f"{size} px is larger than this class allows ({self.max_size} px)")
        changes = {**settings, "size": size}
        if changes.get("preserve_color") == "off":
            changes["preserve_color"] = None
        return replace(self.config, **changes)

    def seconds(self, config: Config, shape: tuple[int, int] | None = None) -> float:
        """The estimator's seconds for a photo of `shape` (H, W; a square if None) at `config.size`,
        scaled by how fast this pool's finished jobs ran against their estimates."""
        predicted = cost.estimate(config, shape or config.size, self.calibration).seconds
        return predicted * (statistics.median(self.ratios[-10:]) if self.ratios else 1.0)

    def forecast(self, settings: dict[str, Any]) -> dict[str, float]:
        """For a Run not pressed yet: its seconds, and its wait if pressed now."""
        config = self.settings(settings)
        with self.lock:
            free = self._free_times()
            for job_id in self.queue.order():
                free[0] += self.jobs[job_id].state.seconds or 0.0
                free.sort()
        return {"seconds": self.seconds(config), "wait": free[0]}

    # -- the teacher's view ---------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Every visitor's jobs, in arrival order, and who has a picture."""
        with self.lock:
            rows = []
            for visitor_id, visitor in self.visitors.items():
                states = [self.jobs[j].state for j in visitor.jobs]
                rows.append({"visitor": visitor.number, "key": visitor_id[:8],
                             "present": not visitor.left and time.monotonic() - visitor.seen < self.patience,
                             "jobs": [{"status": s.status, "position": s.position, "iteration": s.iteration,
                                       "queued_at": s.queued_at, "waited": s.waited, "ran": s.ran} for s in states],
                             "picture": self.latest(visitor_id) is not None})
            return {"visitors": rows, "queued": len(self.queue), "running": len(self.running()),
                    "workers": self.slots}

    def latest(self, visitor: str) -> bytes | None:
        """A visitor's newest picture: of the newest job that has one."""
        with self.lock:
            for job_id in reversed(self.visitors[visitor].jobs):
                if self.jobs[job_id].image is not None:
                    return self.jobs[job_id].image
            return None

    def visitor_by_key(self, key: str) -> str | None:
        with self.lock:
            return next((v for v in self.visitors if v.startswith(key)), None)

    def archive(self) -> bytes:
        """A zip of every visitor's newest picture, visitor-01.png, ..."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z, self.lock:
            for visitor_id, visitor in self.visitors.items():
                image = self.latest(visitor_id)
                if image is not None:
                    z.writestr(f"visitor-{visitor.number:02d}.png", image)
        return buffer.getvalue()

    # -- the dispatcher -------------------------------------------------------------------------

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state.status == "running"]

    def _dispatch_forever(self) -> None:
        while not self._closing.wait(0.25):
            try:
                self.dispatch()
            except Exception as exc:  # one bad turn must not end the class: say it, go on
                print(f"nst-tutorial serve: the dispatcher hit {type(exc).__name__}: {exc}", flush=True)

    def dispatch(self) -> None:
        """One turn: finished jobs collected, live views copied, quiet visitors let go, free
        workers given the next jobs in fair order."""
        for job in self.running():
            if job.future is not None and job.future.done():
                self._finish(job)
            else:
                self._copy_live_view(job)
        now = time.monotonic()
        with self.lock:
            gone = [v for v, s in self.visitors.items() if now - s.seen > self.patience
                    and any(self.jobs[j].state.status in ("queued", "running") for j in s.jobs)]
        for visitor in gone:
            self.leave(visitor)
        with self.lock:
            while len(self.running()) < self.slots:
                taken = self.queue.take()
                if taken is None:
                    break
                self._start(self.jobs[taken[1]])
            self._update_waits()

    def _start(self, job: Job) -> None:
        job.started = time.monotonic()
        job.state = replace(job.state, status="running", position=None, wait=0.0,
                            waited=job.started - job.submitted)
        job.future = self.client.submit(paint, job.state.job, job.request, job.config, self.threads,
                                        key=f"nst-classroom-{job.state.job}", pure=False)
        job.request = None  # the pool has it; a class's pictures would otherwise pile up here

    def _finish(self, job: Job) -> None:
        assert job.future is not None and job.started is not None
        seconds = time.monotonic() - job.started
        try:
            final = job.future.result()
        except Exception as exc:
            with self.lock:
                job.state = replace(job.state, status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
            return
        finally:
            self._forget(job)
        path = self.folder / job.visitor / f"{job.state.job}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(final["image"])
        with self.lock:
            job.image = final["image"]
            status = "cancelled" if job.cancelled else "stopped" if job.stop_requested else "done"
            job.state = replace(job.state, status=status, iteration=final["iteration"], history=final["history"],
                                picture=max(final["picture"], job.state.picture + 1), ran=seconds)
            if status == "done" and job.state.seconds:
                self.ratios.append(seconds / job.state.seconds)

    def _copy_live_view(self, job: Job) -> None:
        try:
            live = Variable(progress_name(job.state.job), client=self.client).get(timeout=0.05)
        except TimeoutError:
            return  # nothing shown yet
        with self.lock:
            if live["picture"] > job.state.picture:
                job.image = live["image"]
                job.state = replace(job.state, iteration=live["iteration"], history=live["history"],
                                    picture=live["picture"])

    def _ask_to_stop(self, job: Job) -> None:
        job.stop_requested = True
        Event(stop_name(job.state.job), client=self.client).set()

    def _forget(self, job: Job) -> None:
        """The job's future, Dask variable and event, which would otherwise stay on the scheduler."""
        job.future = None
        try:
            Variable(progress_name(job.state.job), client=self.client).delete()
        except Exception:  # never set: nothing to delete
            pass
        Event(stop_name(job.state.job), client=self.client).clear()

    def _free_times(self) -> list[float]:
        """Seconds until each worker is free, by the running jobs' estimates."""
        now = time.monotonic()
        left = [max(0.0, (j.state.seconds or 0.0) - (now - (j.started or now))) for j in self.running()]
        return sorted(left + [0.0] * max(0, self.slots - len(left)))

    def _update_waits(self) -> None:
        """Each queued job's position and expected wait: the jobs before it, on the first free worker."""
        free = self._free_times()
        for position, job_id in enumerate(self.queue.order(), start=1):
            job = self.jobs[job_id]
            job.state = replace(job.state, position=position, wait=free[0])
            free[0] += job.state.seconds or 0.0
            free.sort()

    def _visitor(self, visitor: str) -> Visitor:
        """A known visitor, marked as seen now; `NSTError` for an unknown one."""
        if visitor not in self.visitors:
            raise NSTError("this page is not known to the class: reload it")
        self.visitors[visitor].seen, self.visitors[visitor].left = time.monotonic(), False
        return self.visitors[visitor]

    def _own(self, visitor: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.visitor != visitor:
            raise NSTError("no such job on this page")
        self._visitor(visitor)
        return job
