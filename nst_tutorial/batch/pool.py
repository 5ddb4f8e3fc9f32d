"""The local worker pool: processes x torch threads = cores, as many as the memory holds."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context

import torch
from tqdm.auto import tqdm

from ..config import Config

def local_pool(workers: int | None = None, threads: int | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers x torch threads equals the cores (default: one thread each).

    Workers start with `spawn`: forking a process whose OpenMP threads have run can hang. A
    script that makes a pool needs the usual `if __name__ == "__main__":` guard.
    """
    count = cores()
    workers = workers or count
    threads = threads or max(1, count // workers)
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                               initargs=(threads,))


def _start_worker(threads: int) -> None:
    """A worker's torch threads; and tqdm's lock a thread lock, not the multiprocessing one tqdm
    makes by default: a worker ended mid-job (Ctrl-C) cannot release that semaphore, and
    multiprocessing's resource tracker reports it as leaked when the sweep exits."""
    torch.set_num_threads(threads)
    tqdm.set_lock(threading.RLock())


def shutdown(pool: Executor, complete: bool) -> None:
    """Shut our own pool down; after Ctrl-C or a `break`, end the jobs still running too, or the
    process would wait for them at exit."""
    if not complete:
        terminate_workers(pool)
    pool.shutdown(wait=complete, cancel_futures=True)


def terminate_workers(pool: Executor) -> None:
    """End a process pool's running jobs now. Python 3.14 has `terminate_workers`; before it the
    only way is the pool's private `_processes`, the one place it is read. Without either, one
    warning, and the running jobs finish before the process exits."""
    if callable(getattr(pool, "terminate_workers", None)):
        pool.terminate_workers()  # type: ignore[attr-defined]
        return
    processes = getattr(pool, "_processes", None)
    if not isinstance(processes, dict):
        warnings.warn("cannot end the running workers on this Python (no terminate_workers, no _processes): "
                      "the jobs already started finish first", RuntimeWarning, stacklevel=2)
        return
    for process in list(processes.values()):
        process.terminate()


def default_workers(configs: Sequence[Config]) -> int:
    """As many workers as cores, but no more than there are jobs, or than the memory holds
    at the largest job's estimated peak (`cost.estimate`, this machine's calibration if cached)."""
    from .. import cost  # imported here: the estimator is only needed for the default pool

    largest = max(configs, key=lambda c: c.size)
    peak = cost.estimate(largest, largest.size, cost.calibrate(largest, measure=False)).peak_mb
    fits = int(cost.available_memory_mb() // peak) if peak > 0 else len(configs)
    return max(1, min(cores(), len(configs), fits))


def cores() -> int:
    """The processors this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
