"""Know the cost before you run (`cost.estimate`): predicted peak memory and time, from a model of the work.

The model counts what a run holds and does, and a short measurement on this machine (about 18
seconds, once; cached) sets its few constants:

- memory: the process's baseline (PyTorch, the network) + `k` x the bytes autograd keeps for
  the backward pass (counted exactly at two small sizes through saved-tensor hooks, and
  linear in the pixel count) + L-BFGS's history (2 x history x the image's numbers x 4 bytes)
  + a few image-sized buffers + the kernels Winograd's path keeps + NNPACK's workspace (which
  does not grow with the picture). `k` (how much more than that count the backward pass
  needs at its peak) is fitted to the peak RSS measured in a fresh process;
- time per iteration: the forward and backward FLOPs (convolutions and Gram matrices, twice
  the forward count) at two rates fitted over the calibration sizes: one for PyTorch's direct
  path, one for the convolutions NNPACK or Winograd's F(4x4, 3x3) runs, whose fast algorithms
  do fewer operations than counted.

A whole run sums its stages. `content` may be a path, a tensor or a size (long side, or (H, W)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


from ..config import Config
from ..data import CONTENT, image_path
from ..images import ImageSource, long_side
from ..stages import full_size_config
from ..stylize import Plan, make_plan
from .calibration import Calibration, calibrate
from .model import flop_split, model_bytes


@dataclass(frozen=True)
class Estimate:
    """A prediction for one run."""

    peak_mb: float  # peak resident memory of the whole run
    seconds_per_iteration: float  # at full size
    seconds: float  # the whole run: every stage, its iterations (with a tolerance, at most this)
    size: tuple[int, int]  # (H, W) at full size
    stages: tuple[int, ...]  # long side of each stage
    capped: bool = False  # `seconds` counts every iteration, but a tolerance may end stages sooner

    def __str__(self) -> str:
        h, w = self.size
        return (f"{w}x{h} px, stages {', '.join(f'{s} px' for s in self.stages)}: peak memory about "
                f"{self.peak_mb:,.0f} MB, {self.seconds_per_iteration:.2f} s per full-size iteration, "
                f"{'at most' if self.capped else 'about'} {duration(self.seconds)} in all")


def estimate(config: Config, content: ImageSource | int | tuple[int, int] | None = None,
             calibration: Calibration | None = None, plan: Plan | None = None, regions: int = 1) -> Estimate:
    """Predicted peak memory and time of `stylize(content, ..., config)`, before any solve.

    `content` is an image (only a file's header is read), its (H, W), or a square's side;
    `plan` (the run's `stylize.Plan`) spares picking the device and the stages again; `regions`
    counts the painted regions (one painting each): their Gram matrices and masked features. A
    blended second painting costs one forward pass before the solve and nothing per iteration."""
    cal = calibration or calibrate(config)
    if plan is None:
        shape = (content, content) if isinstance(content, int) else content
        plan = make_plan(config, image_path(CONTENT) if shape is None else shape)
    counted = replace(config, device=plan.device.type)  # the device as picked: "auto" is not looked up again
    h, w = plan.shape
    peak = 0.0
    seconds = 0.0
    for i, side in enumerate(plan.sizes):
        sh, sw = long_side(h, w, side)
        peak = max(peak, cal.baseline_mb + cal.peak_factor * model_bytes(counted, sh, sw, regions) / 2**20)
        stage = full_size_config(counted) if 0 < i == len(plan.sizes) - 1 else counted
        per_iteration = seconds_per_iteration(stage, sh, sw, cal, regions)
        seconds += per_iteration * (config.iterations if i == len(plan.sizes) - 1 else config.coarse_iterations)
    return Estimate(peak, per_iteration, seconds, (h, w), tuple(plan.sizes), capped=config.tolerance > 0)


def seconds_per_iteration(config: Config, height: int, width: int, cal: Calibration, regions: int = 1) -> float:
    """Forward and backward (twice the forward FLOPs) at each path's measured rate."""
    direct, fast = flop_split(config, height, width, regions)
    return 2 * (direct * cal.seconds_per_gflop + fast * cal.seconds_per_gflop_fast) / 1e9


def largest_size(config: Config, content: ImageSource | int | tuple[int, int], available_mb: float,
                 calibration: Calibration | None = None) -> int:
    """The largest long side (a multiple of 16) whose estimated peak fits in `available_mb`; 0 if none."""
    cal = calibration or calibrate(config)
    h, w = make_plan(config, (content, content) if isinstance(content, int) else content).shape
    aspect = (h / max(h, w), w / max(h, w))
    best = 0
    for side in range(16, 8193, 16):
        sized = replace(config, size=side)
        if estimate(sized, (round(side * aspect[0]), round(side * aspect[1])), cal).peak_mb > available_mb:
            break
        best = side
    return best


def available_memory_mb() -> float:
    """Memory the system can give a new process now (Linux's MemAvailable), in MB; inf if unknown."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration):
        return math.inf


def duration(seconds: float) -> str:
    """`45 s` or `3.2 min`."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


