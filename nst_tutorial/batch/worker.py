"""In a worker process: solve one job with `stylize`, the one solve path, on a VGG19 built once
per process, and score the 8-bit picture."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..images import to_uint8
from ..judge import Judge, Scores
from ..stages import pick_device
from ..stylize import stylize
from ..vgg import build_vgg19
from .job import Payload

@dataclass(frozen=True)
class Outcome:
    """What travels back: the 8-bit picture (H, W, 3) and what the solve recorded."""

    image: np.ndarray
    history: dict[str, list[float]]
    iterations: list[int]
    seconds: float
    scores: Scores | None
    worker: int
    built_network: bool


def run_job(payload: Payload) -> Outcome:
    """In a worker: solve one job on the worker's VGG19 and score the 8-bit picture."""
    reuse_freed_memory()
    config = payload.config
    device = pick_device(config.device)
    builds = worker_network.cache_info().misses
    net = worker_network(config.weights, config.pooling, config.fast_conv, config.ceil_mode, str(device))
    built = worker_network.cache_info().misses > builds
    start = time.perf_counter()
    result = stylize(payload.content, list(payload.styles), config, progress=False, net=net)
    seconds = time.perf_counter() - start
    image = to_uint8(result.image)
    scores = None
    if payload.score and len(payload.styles) == 1:
        scores = _judge(payload.content, payload.styles[0]).score(image)
    return Outcome(image, result.history, result.iterations, seconds, scores, os.getpid(), built)


@functools.lru_cache(maxsize=1)
def reuse_freed_memory() -> None:
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
    return Judge(content, style, net=worker_network("caffe", "max", True, False, "cpu"))


@functools.lru_cache(maxsize=4)
def worker_network(weights: str, pooling: str, fast_conv: bool, ceil_mode: bool, device: str) -> torch.nn.Sequential:
    """The whole VGG19, built once per worker process and kept: `augment` cuts it per job."""
    return build_vgg19(weights, pooling, "pool5", fast_conv, ceil_mode).to(device)


