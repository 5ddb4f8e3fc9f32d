"""Many solves at once: every photo x every painting x every setting of a grid (`grid`), on a
local process pool (`pool`) or any `concurrent.futures.Executor` such as Dask's (`sweep`), each
solved by `stylize` in a worker (`worker`), written and summed up as a contact sheet (`report`)."""

from .grid import configs, load_grid
from .job import Job, JobResult, jobs
from .pool import local_pool
from .sweep import sweep

__all__ = ["Job", "JobResult", "configs", "jobs", "load_grid", "local_pool", "sweep"]
