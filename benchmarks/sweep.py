"""Wall time of notebook 03's galleries: one after another, on the local pool, on a Dask LocalCluster.

    python benchmarks/sweep.py            # about 30 minutes on a 2-core CPU; writes benchmarks/sweep.json
    python benchmarks/sweep.py --smoke    # tiny sizes: checks that it runs

The galleries are notebook 03's, at its parameters (128 px, 80 iterations; the seed's gallery at
256 px, 150), run gallery by gallery as the notebook runs them, each solve scored in its worker.
The three executors run the same jobs through `batch.sweep`, one after another in this run:
- one after another: a one-thread `ThreadPoolExecutor` in this process, torch on every core;
- the local pool: `batch.local_pool()`, workers x torch threads = cores;
- Dask: `LocalCluster(n_workers=2, threads_per_worker=1)` through `Client.get_executor()`.
Each executor's start-up is timed on its own; the gallery times exclude it.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

import nst_tutorial as nt
from nst_tutorial import batch
from nst_tutorial.plots import gallery
from nst_tutorial.data import image_path

HERE = Path(__file__).resolve().parent


def galleries(size: int = 128, iterations: int = 80, seed_size: int = 256,
              seed_iterations: int = 150) -> dict[str, dict[str, gallery.Variant]]:
    """Notebook 03's galleries, in its order (its Dask section re-runs "init" and is left out)."""
    cfg = nt.Config(size=size, iterations=iterations)
    mycaffe = nt.Config.mycaffe(size=size, iterations=iterations)
    seed_cfg = replace(cfg, size=seed_size, iterations=seed_iterations)
    paintings = {"The Starry Night": "starry_night", "The Scream": "the_scream",
                 "Water Lilies 1916": "water_lilies_1916"}
    return {
        "style layers": gallery.growing_style_layers(cfg),
        "content/style": gallery.content_style_ratios(cfg, (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)),
        "EVENT": {"EVENT on": cfg, "EVENT off": replace(cfg, event_gate=False)},
        "EVENT, MyCaffe": {"on": mycaffe, "off": replace(mycaffe, event_gate=False)},
        "init": {"content init": cfg, "noise init": replace(cfg, init="noise")},
        "optimizer": {"L-BFGS": cfg, "Adam": replace(cfg, optimizer="adam")},
        "seed gallery": {title: (image_path(name), seed_cfg) for title, name in paintings.items()},
    }


def dask_executor(stack: ExitStack) -> Executor:
    from dask.distributed import Client, LocalCluster

    cluster = stack.enter_context(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    return stack.enter_context(Client(cluster)).get_executor()


EXECUTORS: dict[str, Callable[[ExitStack], Executor]] = {
    "one after another (1 process, 2 torch threads)": lambda stack: stack.enter_context(ThreadPoolExecutor(1)),
    "local pool (2 processes x 1 thread)": lambda stack: stack.enter_context(batch.local_pool()),
    "Dask LocalCluster (2 workers x 1 thread)": dask_executor,
}


def timed(executor: Executor, runs: dict[str, dict[str, gallery.Variant]]) -> dict[str, float]:
    content, style = image_path("u_street_metro"), image_path("starry_night")
    seconds = {}
    for name, variants in runs.items():
        start = time.perf_counter()
        gallery.run_gallery(content, style, variants, executor)
        seconds[name] = time.perf_counter() - start
    return seconds


def main(smoke: bool = False) -> None:
    runs = galleries(32, 2, 32, 2) if smoke else galleries()
    results = {}
    for label, make in EXECUTORS.items():
        with ExitStack() as stack:
            start = time.perf_counter()
            executor = make(stack)
            warm: AbstractContextManager = tempfile.TemporaryDirectory()
            with warm as folder:  # start every worker and import torch there before timing
                tiny = nt.Config(size=32, iterations=1, scales=(1.0,))
                list(batch.sweep([batch.Job("coffee", ("starry_night",), replace(tiny, seed=i)) for i in range(2)],
                                 executor, out=folder, score=False, progress=False))
            startup = time.perf_counter() - start
            seconds = timed(executor, runs)
        results[label] = {"startup_s": startup, "galleries_s": seconds, "total_s": sum(seconds.values())}
        print(f"{label}: start-up {startup:.1f} s, galleries {sum(seconds.values()):.1f} s", flush=True)
    record = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "torch": torch.__version__, "solves": sum(len(v) for v in runs.values()), "results": results}
    if not smoke:
        (HERE / "sweep.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    import sys

    main(smoke="--smoke" in sys.argv)
