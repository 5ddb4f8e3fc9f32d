"""Know the cost before you run (`nt.estimate`): predicted peak memory and time, from a model of the work.

The model counts what a run holds and does, and a short measurement on this machine (about ten
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

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .config import Config
from .data import CONTENT, STYLE, image_path
from .images import ImageSource, image_size
from .fastconv import Conv3x3
from .pipeline import deepest_layer, pick_device, prepare, stage_sizes
from .vgg import channels, layer_names

CALIBRATION_FORMAT = 3  # bump when what the child measures changes (3: Winograd's path on small maps)
CALIBRATION_SIZES = (128, 256, 512)  # long sides of the measured runs: NNPACK takes two, three, four blocks


@dataclass(frozen=True)
class Calibration:
    """This machine's constants for the model (see the module docstring)."""

    baseline_mb: float  # RSS of a process with PyTorch loaded and the network built
    peak_factor: float  # peak RSS above the baseline, per byte of the model's count
    seconds_per_gflop: float  # per GFLOP of forward + backward work on PyTorch's direct path (and Gram)
    seconds_per_gflop_fast: float  # per nominal GFLOP of the convolutions NNPACK or Winograd's path runs


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


# Measured on a 2-core x86-64 machine without a GPU (torch 2.14, 2 threads, NNPACK and Winograd's
# path); used until this machine has its own calibration.
DEFAULT = Calibration(baseline_mb=643.0, peak_factor=1.53, seconds_per_gflop=0.0212, seconds_per_gflop_fast=0.0040)


def forward_flops(config: Config, height: int, width: int) -> float:
    """Multiply-adds x 2 of the convolutions up to the deepest loss layer, plus the Gram matrices."""
    return sum(flop_split(config, height, width))


def flop_split(config: Config, height: int, width: int) -> tuple[float, float]:
    """Forward FLOPs as (direct, fast): the convolutions a fast algorithm runs (`conv_path`: NNPACK
    or Winograd's, on the CPU), which need fewer operations than counted, apart."""
    direct, fast = 0.0, 0.0
    for c_in, c_out, h, w in _conv_maps(config, height, width):
        flops = 2 * c_in * c_out * 9 * h * w
        if conv_path(config, h, w) != "direct":
            fast += flops
        else:
            direct += flops
    for name in config.style_layers:
        block = int(name[4]) - 1
        direct += 2 * channels(name) ** 2 * (height >> block) * (width >> block)
    return direct, fast


def _conv_maps(config: Config, height: int, width: int) -> Iterator[tuple[int, int, int, int]]:
    """(c_in, c_out, h, w) of each convolution up to the deepest loss layer."""
    h, w = height, width
    names = layer_names()
    for name in names[: names.index(deepest_layer(config)) + 1]:
        if name.startswith("conv"):
            yield 3 if name == "conv1_1" else channels(names[names.index(name) - 2]), channels(name), h, w
        elif name.startswith("pool"):
            h, w = _pooled(config, h, w)


def _pooled(config: Config, h: int, w: int) -> tuple[int, int]:
    """A 2x2 max-pool's output size: rounded up with `config.ceil_mode` (Caffe), else down."""
    return (-(-h // 2), -(-w // 2)) if config.ceil_mode else (h // 2, w // 2)


def nnpack_bytes(config: Config, height: int, width: int) -> int:
    """NNPACK's workspace, which PyTorch keeps for the process's life: mostly the kernels of the
    widest layer NNPACK runs, transformed to 16x16 FFT tiles (c_in x c_out x 256 floats; 268 MB
    for VGG's 512-channel layers). It does not grow with the picture, so a factor on the other
    counts would overstate large pictures."""
    return max((c_in * c_out * 256 * 4 for c_in, c_out, h, w in _conv_maps(config, height, width)
                if conv_path(config, h, w) == "nnpack"), default=0)


def winograd_bytes(config: Config, height: int, width: int) -> int:
    """Bytes of the transformed kernels the layers on Winograd's path hold: 36 per 9 weights."""
    return sum(36 * c_in * c_out * 4 for c_in, c_out, h, w in _conv_maps(config, height, width)
               if conv_path(config, h, w) == "winograd")


def conv_path(config: Config, h: int, w: int) -> str:
    """The algorithm `Conv3x3.path` picks for a map of h x w on the device `config` picks."""
    cpu = config.device == "cpu" or (config.device == "auto" and pick_device("auto").type == "cpu")
    return Conv3x3.fast_path(h * w, config.low_memory) if config.fast_conv and cpu else "direct"


def saved_bytes(config: Config, height: int, width: int) -> int:
    """Bytes autograd keeps for one backward pass of the model `config` builds at (height, width).

    What each layer keeps: a ReLU its output; a max-pool its indices (int64, at its output's
    size; its input is the ReLU output already kept); a convolution its input when PyTorch's
    direct path runs it, and nothing when a fast one does (its backward needs only the weights),
    so only a convolution right after a pool adds bytes; a style loss three C x C matrices; a
    content loss two copies of its feature map. `tests/test_estimate.py` checks the count
    against the tensors autograd really saves.
    """
    names = layer_names()
    h, w = height, width
    keeps_input = True  # the image, or a pool's output: kept by no one else
    per_block = [0]
    sizes = {}
    for name in names[: names.index(deepest_layer(config)) + 1]:
        c = channels(name)
        if name.startswith("conv"):
            if conv_path(config, h, w) == "direct" and keeps_input:
                per_block[-1] += (3 if name == "conv1_1" else channels(names[names.index(name) - 1])) * h * w * 4
            keeps_input = False
        elif name.startswith("relu"):
            per_block[-1] += c * h * w * 4
        else:
            h, w = _pooled(config, h, w)
            per_block[-1] += c * h * w * 8
            per_block.append(0)
            keeps_input = True
        sizes[name] = (h, w)
    for n in config.style_layers:
        per_block[_block(n)] += 3 * channels(n) ** 2 * 4
    for n in config.content_layers:
        per_block[_block(n)] += 2 * channels(n) * sizes[n][0] * sizes[n][1] * 4
    return sum(per_block)


def _block(name: str) -> int:
    """0 for conv1_x / relu1_x, 1 for conv2_x, ...: how many pools come before the layer."""
    return int(name[4]) - 1


def model_bytes(config: Config, height: int, width: int) -> float:
    """The model's memory count above the baseline: saved tensors, L-BFGS history (bfloat16 with
    `config.low_memory`), image buffers, the kernels Winograd's path transformed, NNPACK's workspace."""
    numbers = 3 * height * width
    pair_bytes = 2 * numbers * (2 if config.low_memory else 4)
    history = config.lbfgs_history * pair_bytes if config.optimizer == "lbfgs" else 2 * numbers * 4
    return (saved_bytes(config, height, width) + history + 8 * numbers * 4 + winograd_bytes(config, height, width)
            + nnpack_bytes(config, height, width))


def estimate(config: Config, content: ImageSource | int | tuple[int, int] | None = None,
             calibration: Calibration | None = None) -> Estimate:
    """Predicted peak memory and time of `stylize(content, ..., config)`, before any solve."""
    cal = calibration or calibrate(config)
    h, w = _full_size(image_path(CONTENT) if content is None else content, config.size)
    sizes = stage_sizes(config, aspect=max(h, w) / min(h, w))
    peak = 0.0
    seconds = 0.0
    for i, long_side in enumerate(sizes):
        sh, sw = max(1, round(h * long_side / max(h, w))), max(1, round(w * long_side / max(h, w)))
        peak = max(peak, cal.baseline_mb + cal.peak_factor * model_bytes(config, sh, sw) / 2**20)
        per_iteration = seconds_per_iteration(config, sh, sw, cal)
        seconds += per_iteration * (config.iterations if i == len(sizes) - 1 else config.coarse_iterations)
    return Estimate(peak, per_iteration, seconds, (h, w), tuple(sizes), capped=config.tolerance > 0)


def seconds_per_iteration(config: Config, height: int, width: int, cal: Calibration) -> float:
    """Forward and backward (twice the forward FLOPs) at each path's measured rate."""
    direct, fast = flop_split(config, height, width)
    return 2 * (direct * cal.seconds_per_gflop + fast * cal.seconds_per_gflop_fast) / 1e9


def largest_size(config: Config, content: ImageSource | int | tuple[int, int], available_mb: float,
                 calibration: Calibration | None = None) -> int:
    """The largest long side (a multiple of 16) whose estimated peak fits in `available_mb`; 0 if none."""
    cal = calibration or calibrate(config)
    h, w = _full_size(content, config.size)
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


def calibrate(config: Config, cache: Path | None = None, measure: bool = True) -> Calibration:
    """This machine's constants: from the cache, else measured in a fresh process (seconds) and
    cached; with `measure=False`, `DEFAULT` instead of measuring (for a quick check before a run)."""
    path = cache or _cache_path(config)
    if path.is_file():
        try:
            return Calibration(**json.loads(path.read_text()))
        except (TypeError, ValueError):
            pass  # an older or damaged file: measure again
    if not measure:
        return DEFAULT
    proc = subprocess.run([sys.executable, "-m", "nst_tutorial.cost", json.dumps(_calibration_settings(config))],
                          capture_output=True, text=True, check=True)
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    cal = fit(config, measured)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cal)))
    return cal


def fit(config: Config, measured: dict) -> Calibration:
    """The constants from the calibration child's measurements, by least squares over its sizes."""
    shapes = measured["shapes"]
    model = torch.tensor([model_bytes(config, h, w) / 2**20 for h, w in shapes], dtype=torch.float64)
    above = torch.tensor(measured["peak_mb"], dtype=torch.float64) - measured["baseline_mb"]
    k = float((above * model).sum() / (model * model).sum())  # peak above the baseline = k x the count
    # seconds = 2 (direct x a + fast x b) / 1e9 at each size: the two rates
    flops = torch.tensor([flop_split(config, h, w) for h, w in shapes], dtype=torch.float64) * 2 / 1e9
    seconds = torch.tensor(measured["seconds"], dtype=torch.float64)[:, None]
    rates = torch.linalg.lstsq(flops, seconds).solution.flatten().tolist()
    if min(rates) <= 0:  # the sizes did not separate the paths: one rate for both
        rates = [float(seconds.sum() / flops.sum())] * 2
    return Calibration(measured["baseline_mb"], max(k, 0.5), rates[0], rates[1])


def _calibration_settings(config: Config) -> dict:
    # low_memory changes the algorithms (no Winograd), so it is measured apart
    return {"fast_conv": config.fast_conv, "weights": config.weights, "device": config.device,
            "low_memory": config.low_memory}


def _cache_path(config: Config) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nst-tutorial"
    key = "-".join([f"v{CALIBRATION_FORMAT}", platform.machine(), str(os.cpu_count()),
                    torch.__version__.replace("+", "_"), str(torch.get_num_threads()),
                    *(f"{k}={v}" for k, v in _calibration_settings(config).items())])
    return root / f"calibration-{key}.json"


def _full_size(content: ImageSource | int | tuple[int, int], size: int) -> tuple[int, int]:
    """(H, W) of the picture at long side `size`, for an image, its (H, W), or a square's side."""
    if isinstance(content, int):
        h, w = content, content
    elif isinstance(content, tuple) and len(content) == 2 and all(isinstance(v, int) for v in content):
        h, w = content
    elif isinstance(content, torch.Tensor):
        h, w = content.shape[-2:]
    else:
        h, w = image_size(content)  # type: ignore[arg-type]
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def duration(seconds: float) -> str:
    """`45 s` or `3.2 min`."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _measure(settings: dict) -> dict:
    """In a fresh process: baseline RSS, then peak RSS and seconds per iteration at each calibration size."""
    import time

    from .solve import solve

    base_config = Config(**settings)
    prepare(image_path(CONTENT), image_path(STYLE), replace(base_config, size=32))  # the network, built once
    out: dict = {"baseline_mb": _peak_mb(), "peak_mb": [], "seconds": [], "shapes": []}
    for size in CALIBRATION_SIZES:
        config = replace(base_config, size=size)
        model = prepare(image_path(CONTENT), image_path(STYLE), config)
        result = solve(model, config, iterations=2, progress=False)  # warm-up, and the history begins
        times = []
        for _ in range(4):  # the fastest of several: another job on the machine only ever slows one down
            start = time.perf_counter()
            solve(model, config, iterations=1, result=result, progress=False)
            times.append(time.perf_counter() - start)
        out["seconds"].append(min(times))
        out["peak_mb"].append(_peak_mb())
        out["shapes"].append(list(model.image.shape[-2:]))
    return out


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


if __name__ == "__main__":
    print(json.dumps(_measure(json.loads(sys.argv[1]))))
