"""This machine's constants for the cost model, measured once in a fresh process and cached.

The child (`python -m nst_tutorial.cost.calibration SETTINGS`) builds the network, then runs a few
iterations at each calibration size and reports the peak RSS and the fastest iteration; `fit`
turns that into the constants. `--estimate` runs it the first time (about 18 s on a 2-core CPU),
`--recalibrate` again. Each calibration records when it was made and how busy the machine was,
and a run whose speed is far from its prediction sends the next `--estimate` to measure again
(`check_speed`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..config import Config
from ..data import CONTENT, STYLE, image_path
from ..stylize import prepare
from .model import flop_split, model_bytes


CALIBRATION_FORMAT = 4  # bump when the cached record changes (3: Winograd's path; 4: when and under what load)
CALIBRATION_SIZES = (128, 256, 512)  # long sides of the measured runs: NNPACK takes two, three, four blocks


@dataclass(frozen=True)
class Calibration:
    """This machine's constants for the model (see the module docstring)."""

    baseline_mb: float  # RSS of a process with PyTorch loaded and the network built
    peak_factor: float  # peak RSS above the baseline, per byte of the model's count
    seconds_per_gflop: float  # per GFLOP of forward + backward work on PyTorch's direct path (and Gram)
    seconds_per_gflop_fast: float  # per nominal GFLOP of the convolutions NNPACK or Winograd's path runs
    measured_at: str = ""  # when, in UTC ("" for the built-in constants)
    load: float | None = None  # the machine's 1-minute load average just before measuring
    cores: int | None = None  # its processors then

    def __str__(self) -> str:
        if not self.measured_at:
            return "built-in constants from a 2-core machine (this one is measured at the first --estimate)"
        text = f"calibrated {self.measured_at}"
        if self.load is not None and self.cores:
            text += f" at load {self.load:.1f} on {self.cores} cores"
            if self.load > self.cores / 2:
                text += ": the machine was busy then, so times may be overstated (--recalibrate when it is quiet)"
        return text



# Measured on a 2-core x86-64 machine without a GPU (torch 2.14, 2 threads, NNPACK and Winograd's
# path); used until this machine has its own calibration.
DEFAULT = Calibration(baseline_mb=643.0, peak_factor=1.53, seconds_per_gflop=0.0212, seconds_per_gflop_fast=0.0040)


def calibrate(config: Config, cache: Path | None = None, measure: bool = True, again: bool = False) -> Calibration:
    """This machine's constants: from the cache, else measured in a fresh process (about 18 s)
    and cached; `again` measures even when a cache exists; with `measure=False`, `DEFAULT`
    instead of measuring (for a quick check before a run)."""
    path = cache or cache_path(config)
    if path.is_file() and not again:
        try:
            return Calibration(**json.loads(path.read_text()))
        except (TypeError, ValueError):
            pass  # an older or damaged file: measure again
    if not measure:
        return DEFAULT
    load, cores = _load(), os.cpu_count()
    cal = replace(fit(config, measure_in_child(config)), measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  load=load, cores=cores)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cal)))
    return cal


def measure_in_child(config: Config) -> dict:
    """Run `_measure` in a fresh process (so its memory readings are its own) and return what it saw."""
    child = [sys.executable, "-m", "nst_tutorial.cost.calibration", json.dumps(_calibration_settings(config))]
    proc = subprocess.run(child, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_speed(config: Config, calibration: Calibration, predicted: float, measured: float,
                cache: Path | None = None) -> str | None:
    """After a run: if its seconds per full-size iteration are more than twice or less than half
    what `calibration` predicted, forget the cached calibration so the next estimate measures
    again, and say so in one line; else None. The built-in constants are never cached."""
    if not calibration.measured_at or predicted <= 0 or measured <= 0 or 0.5 <= measured / predicted <= 2:
        return None
    path = cache or cache_path(config)
    path.unlink(missing_ok=True)
    how = f"{measured / predicted:.1f}x slower" if measured > predicted else f"{predicted / measured:.1f}x faster"
    return (f"note: this run took {measured:.2f} s per full-size iteration, {how} than the calibration "
            f"({calibration}) predicted; the next --estimate measures this machine again")


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this system
        return None


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
    # low_memory and precision change the algorithms (no Winograd; bfloat16), so each is measured apart
    return {"fast_conv": config.fast_conv, "weights": config.weights, "device": config.device,
            "low_memory": config.low_memory, "precision": config.precision}


def cache_path(config: Config) -> Path:
    """Where this machine's calibration for `config`'s settings and the current thread count is cached."""
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nst-tutorial"
    key = "-".join([f"v{CALIBRATION_FORMAT}", platform.machine(), str(os.cpu_count()),
                    torch.__version__.replace("+", "_"), str(torch.get_num_threads()),
                    *(f"{k}={v}" for k, v in _calibration_settings(config).items())])
    return root / f"calibration-{key}.json"


def _measure(settings: dict) -> dict:
    """In a fresh process: baseline RSS, then peak RSS and seconds per iteration at each calibration size."""
    import time

    from ..solve import solve

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
