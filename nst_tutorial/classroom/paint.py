"""On a worker of the pool: paint one visitor's request with `stylize`, the one solve path.

The live view travels through Dask: the worker sets a `Variable` named for the job with the
newest picture and the loss histories, twice a second; Stop is a Dask `Event` named for the job.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from distributed import Event, Variable
from PIL import Image

from ..batch.worker import reuse_freed_memory, worker_network
from ..config import Config
from ..images import to_pil
from ..solve import SolveResult
from ..stages import pick_device
from ..stylize import stylize
from ..widgets.painter import label_masks
from .requests import Request

SHOW_EVERY = 0.5  # seconds between two pictures of the live view: each is a PNG through the scheduler


def progress_name(job: str) -> str:
    return f"nst-classroom-progress-{job}"


def stop_name(job: str) -> str:
    return f"nst-classroom-stop-{job}"


def paint(job: str, request: Request, config: Config, threads: int) -> dict[str, Any]:
    """Solve `request` under `config` on this worker's VGG19; its last live state, with the best
    picture as `image` (PNG bytes).

    A Stop ends the solve at the next iteration and still returns its best picture.
    """
    reuse_freed_memory()  # Dask's malloc setting made every iteration 1.55x slower (batch.worker)
    torch.set_num_threads(threads)
    device = pick_device(config.device)
    net = worker_network(config.weights, config.pooling, config.fast_conv, config.ceil_mode, str(device))
    masks = None
    if request.labels is not None:
        masks = label_masks(np.asarray(Image.open(io.BytesIO(request.labels))), len(request.styles))
    progress = Variable(progress_name(job))
    last, count = 0.0, 0  # when the last picture was sent, how many so far

    def show(result: SolveResult, rgb: torch.Tensor) -> None:
        nonlocal last, count
        if time.monotonic() - last >= SHOW_EVERY:
            last, count = time.monotonic(), count + 1
            progress.set(live_state(result, rgb, count))

    result = stylize(request.content, list(request.styles), config, callback=show, stop=stop_flag(job),
                     progress=False, net=net, masks=masks)
    return live_state(result, result.image, count + 1)


def live_state(result: SolveResult, rgb: torch.Tensor, count: int) -> dict[str, Any]:
    """What a page shows while the job runs: iteration, histories, the picture (PNG)."""
    return {"iteration": result.iterations[-1] if result.iterations else 0,
            "history": {k: [float(x) for x in v] for k, v in result.history.items()}, "image": png(rgb),
            "picture": count}


def stop_flag(job: str, every: float = 0.3) -> Callable[[], bool]:
    """True once the job's Stop is pressed; asks the scheduler at most every `every` seconds."""
    event, asked, answer = Event(stop_name(job)), [0.0], [False]

    def stopped() -> bool:
        if not answer[0] and time.monotonic() - asked[0] >= every:
            asked[0], answer[0] = time.monotonic(), event.is_set()
        return answer[0]

    return stopped


def png(image: torch.Tensor) -> bytes:
    """(1, 3, H, W) in [0, 1] as 8-bit PNG bytes."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()
