"""Step 4 of the seed: forward/backward iterations that paint the content in the style."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .augment import AugmentedModel
from .config import Config
from .errors import ConfigError, NonFiniteLossError
from .speed.lbfgs import LBFGS


@dataclass
class Stage:
    """One stage of a solve: the image size it ran at and where it sits in the history."""

    height: int
    width: int
    start: int  # index into `SolveResult.history` lists of this stage's first iteration
    iterations: int = 0  # iterations run in this stage so far
    converged: bool = False  # ended by `Config.tolerance` before its iteration cap
    image: Tensor | None = field(default=None, repr=False)  # where the stage stands: (1, 3, height, width)

    @property
    def label(self) -> str:
        return f"{max(self.height, self.width)} px"


@dataclass
class SolveResult:
    """What a solve produced; pass it back to `solve(result.model, ..., result=result)` to continue."""

    image: Tensor  # best image of the current stage (lowest total loss), RGB in [0, 1], (1, 3, H, W)
    history: dict[str, list[float]] = field(default_factory=dict)  # term -> loss per iteration; NaN: not in that stage
    iterations: list[int] = field(default_factory=list)  # 1-based iteration numbers, counted across stages
    times: list[float] = field(default_factory=list)  # seconds since the first solve started
    best_loss: float = math.inf  # lowest total loss of the current stage
    stopped: bool = False  # True when a stop request or Ctrl-C ended the last call
    stages: list[Stage] = field(default_factory=list)  # every stage so far; the last one is current
    model: AugmentedModel | None = field(default=None, repr=False)  # the current stage's model
    optimizer: LBFGS | torch.optim.Optimizer | None = field(default=None, repr=False)
    elapsed: float = 0.0  # seconds spent in solve() over all calls

    @property
    def total(self) -> list[float]:
        return self.history.get("total", [])

    def summary(self) -> str:
        """How the solve went, in words: "181 iterations (50 at full size, converged), loss 2.037e+05".

        After a stop during a coarse stage the full-size stage has no loss yet: the line names
        the stage that made the picture and its last loss instead of an infinite best.
        """
        last = self.stages[-1] if self.stages else None
        ran = [s for s in self.stages if s.iterations]
        if last is None or not ran:
            return "no iterations"
        if last.iterations:
            where = f"{last.iterations} at full size" + (", converged" if last.converged else "")
            loss = self.best_loss
        else:
            where = f"none at full size: stopped in the {ran[-1].label} stage, its picture resized up"
            loss = self.total[-1]
        return f"{len(self.iterations)} iterations ({where}), loss {loss:.4g}"

    def begin_stage(self, model: AugmentedModel) -> None:
        """Make `model` the current stage: fresh optimizer and best loss, its image as the start."""
        self.model, self.optimizer, self.best_loss = model, None, math.inf
        self.image = model.rgb()
        height, width = model.image.shape[-2:]
        self.stages.append(Stage(height, width, start=len(self.iterations)))


Callback = Callable[[SolveResult, Tensor], None]
StopFlag = threading.Event | Callable[[], bool] | None


def make_optimizer(model: AugmentedModel, config: Config) -> LBFGS | torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([model.image], lr=config.adam_lr)
    # One iteration per step() call keeps progress, stop and history per iteration;
    # the optimizer keeps L-BFGS's curvature memory between calls.
    return LBFGS(model.image, history=config.lbfgs_history, dtype=torch.bfloat16 if config.low_memory else None)


def solve(
    model: AugmentedModel,
    config: Config,
    *,
    iterations: int | None = None,
    result: SolveResult | None = None,
    callback: Callback | None = None,
    stop: StopFlag = None,
    progress: bool = True,
    label: str = "solve",
) -> SolveResult:
    """Run `iterations` (default `config.iterations`) optimizer steps on `model.image`.

    Returns a `SolveResult`; passing it back as `result` (with the same model) continues where
    it stopped. With `config.tolerance` > 0 it ends early, as converged, once the total loss has
    fallen by less than that fraction over the last `config.tolerance_window` iterations of
    the stage. `callback(result, current_rgb)` runs after every iteration. A set `stop` event
    (or a callable returning True) or Ctrl-C ends the solve early and returns the best image.
    Raises `NonFiniteLossError` (holding the result so far) on a NaN or infinite loss.
    `label` names the progress bar.
    """

    n = config.iterations if iterations is None else iterations
    if result is None:
        result = SolveResult(image=model.rgb())
        result.begin_stage(model)
    elif result.model is not model:
        raise ConfigError("this result belongs to another model: continue with solve(result.model, ..., "
                          "result=result), or start afresh without result")
    if result.optimizer is None:
        result.optimizer = make_optimizer(model, config)
    optimizer = result.optimizer
    result.stopped = False
    last: dict[str, float] = {}

    def closure() -> Tensor:
        optimizer.zero_grad()
        total = model()
        total.backward()
        last.update({k: v.item() for k, v in model.losses().items()}, total=total.item())
        if math.isfinite(last["total"]) and last["total"] < result.best_loss:
            result.best_loss, result.image = last["total"], model.rgb()  # the image this loss scored
        return total

    start = time.perf_counter() - result.elapsed
    # leave=True: a closed bar's widget is gone from a reloaded notebook ("model not found")
    bar = tqdm(total=n, desc=label, unit="it", disable=not progress, leave=True)
    try:
        for _ in range(n):
            if stop_requested(stop):
                result.stopped = True
                break
            optimizer.step(closure)  # type: ignore[arg-type]
            _record(result, last, time.perf_counter() - start)
            if not math.isfinite(last["total"]):
                raise NonFiniteLossError(
                    f"loss became {last['total']} at iteration {result.iterations[-1]}; "
                    "result.image keeps the last finite image (try smaller weights or adam_lr)", result)
            bar.update(1)
            bar.set_postfix(_postfix(last), refresh=False)
            if callback is not None:
                callback(result, model.rgb())
            if converged(result, config):
                result.stages[-1].converged = True
                # A bar closed short of its total turns red in Jupyter, as if the solve had failed.
                bar.total = bar.n
                bar.set_postfix_str(", ".join([*(f"{k}={v}" for k, v in _postfix(last).items()), "converged"]))
                break
    except KeyboardInterrupt:
        result.stopped = True
    finally:
        result.elapsed = time.perf_counter() - start
        result.stages[-1].image = model.rgb()
        bar.close()
    return result


def converged(result: SolveResult, config: Config) -> bool:
    """Whether the current stage's best total loss improved by less than `config.tolerance` (a
    fraction) over its last `config.tolerance_window` iterations.

    The best loss, not the last: L-BFGS can spike for a few iterations (after the resize up to a
    new stage, say), and a spike's recovery must not read as a plateau. So a stage never ends
    before its best loss is below the loss it started with, nor while its current loss is more
    than the tolerance above its best (the next stage starts from the current image).
    """
    stage, k = result.stages[-1], config.tolerance_window
    if config.tolerance <= 0 or stage.iterations <= k:
        return False
    losses = result.total[stage.start:]
    before, now = min(losses[:-k]), min(losses)
    settled = losses[-1] - now <= config.tolerance * abs(now)
    return now < losses[0] and settled and before - now < config.tolerance * abs(now)


def _record(result: SolveResult, losses: dict[str, float], t: float) -> None:
    result.iterations.append(result.iterations[-1] + 1 if result.iterations else 1)
    result.times.append(t)
    result.stages[-1].iterations += 1
    n = len(result.iterations)
    for k, v in losses.items():
        result.history.setdefault(k, [math.nan] * (n - 1)).append(v)
    for values in result.history.values():
        if len(values) < n:  # a term this stage leaves out (conv5_1 at full size): a gap, lists stay aligned
            values.append(math.nan)


def _postfix(losses: dict[str, float]) -> dict[str, str]:
    """Total, style and content loss for the progress bar."""
    style = sum(v for k, v in losses.items() if k.startswith("style/"))
    content = sum(v for k, v in losses.items() if k.startswith("content/"))
    return {"loss": f"{losses['total']:.4g}", "style": f"{style:.3g}", "content": f"{content:.3g}"}


def stop_requested(stop: StopFlag) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())
