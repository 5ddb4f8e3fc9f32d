"""`nst-tutorial`: stylize one picture from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

from .config import OPTIMIZERS, POOLINGS, WEIGHTS, Config
from .data import CONTENT, STYLE, image_path
from .errors import NonFiniteLossError, NSTError
from .images import check_output_path, check_size, load_image, save_image
from .multiscale import solve_coarse_to_fine
from .pipeline import min_side, pick_device
from .solve import SolveResult

DEFAULTS = {f.name: f.default for f in fields(Config)}


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


def parse_scales(text: str) -> tuple[float, ...]:
    """`"0.25,0.5,1"` -> (0.25, 0.5, 1.0)."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales must be numbers like 0.5,1 - got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nst-tutorial",
        description="Paint a photo in the style of a painting (Gatys et al. 2015), offline, on the original VGG19.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("-c", "--content", default=None, help=f"content image (default: bundled {CONTENT})")
    p.add_argument("-s", "--style", nargs="+", default=None, help=f"style image(s), blended (default: {STYLE})")
    p.add_argument("-o", "--output", default="stylized.png", help="where to write the result (.png or .jpg)")
    p.add_argument("--size", type=int, default=DEFAULTS["size"], help="long side of the result in pixels")
    p.add_argument("--style-size", type=int, default=None, help="long side of the style image (default: --size)")
    p.add_argument("-n", "--iterations", type=int, default=DEFAULTS["iterations"])
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"])
    p.add_argument("--scales", type=parse_scales, default=DEFAULTS["scales"], metavar="S,...,1",
                   help="coarse-to-fine stages as fractions of --size, ending with 1")
    p.add_argument("--coarse-iterations", type=int, default=DEFAULTS["coarse_iterations"],
                   help="iterations at each coarse stage")
    p.add_argument("--single-scale", action="store_true", help="the seed's plain solve at full size only")
    p.add_argument("--style-layers", type=parse_layers, default=None, metavar="L[:W],...",
                   help="style layers with weights (default: conv1_1..conv5_1 at 0.2 each)")
    p.add_argument("--content-layers", type=lambda t: parse_layers(t, 1.0), default=None, metavar="L[:W],...",
                   help="content layers with weights (default: conv4_2:1)")
    p.add_argument("--style-weight", type=float, default=DEFAULTS["style_weight"])
    p.add_argument("--content-weight", type=float, default=DEFAULTS["content_weight"])
    p.add_argument("--tv-weight", type=float, default=DEFAULTS["tv_weight"])
    p.add_argument("--init", default=DEFAULTS["init"], help="content, noise, or an image file")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--pooling", choices=POOLINGS, default=DEFAULTS["pooling"])
    p.add_argument("--weights", choices=WEIGHTS, default=DEFAULTS["weights"])
    p.add_argument("--no-event-gate", action="store_true", help="turn off the seed's EVENT gradient gate")
    p.add_argument("--pre-relu", action="store_true", help="read conv outputs before ReLU (Caffe reads after)")
    p.add_argument("--device", default=DEFAULTS["device"], help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--direct-conv", action="store_true",
                   help="PyTorch's own convolutions instead of NNPACK's faster ones on the CPU")
    p.add_argument("--save-every", type=int, default=0, metavar="N", help="also save the image every N iterations")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    style_layers, style_w = args.style_layers or (DEFAULTS["style_layers"], DEFAULTS["style_layer_weights"])
    content_layers, content_w = args.content_layers or (DEFAULTS["content_layers"], DEFAULTS["content_layer_weights"])
    return Config(
        style_layers=style_layers, style_layer_weights=style_w, style_weight=args.style_weight,
        content_layers=content_layers, content_layer_weights=content_w, content_weight=args.content_weight,
        tv_weight=args.tv_weight, event_gate=not args.no_event_gate, relu_in_place=not args.pre_relu,
        pooling=args.pooling, weights=args.weights, size=args.size, style_size=args.style_size,
        iterations=args.iterations, optimizer=args.optimizer, fast_conv=not args.direct_conv,
        scales=(1.0,) if args.single_scale else args.scales, coarse_iterations=args.coarse_iterations,
        init=args.init, seed=args.seed, device=args.device,
    )


def snapshot_saver(output: Path, every: int, shape: tuple[int, ...]):
    """Callback writing `<stem>_<iteration>.png` beside the output every `every` full-size iterations.

    Coarse stages (whose images are smaller than `shape`) are skipped: their iteration numbers
    start again at 1 and would overwrite each other's files.
    """
    def save(result: SolveResult, current) -> None:
        if tuple(current.shape[-2:]) == tuple(shape[-2:]) and result.iterations[-1] % every == 0:
            save_image(current, output.with_name(f"{output.stem}_{result.iterations[-1]:04d}.png"))
    return save


def run(args: argparse.Namespace) -> SolveResult:
    config = config_from_args(args)
    output = check_output_path(args.output)  # fail before minutes of work, not after
    device = pick_device(config.device)
    content_path = args.content or image_path(CONTENT)
    style_paths = args.style or [image_path(STYLE)]
    # Decode once, up front: a bad file fails here, before any message or work.
    content = check_size(load_image(content_path, config.size), min_side(config), "content image")
    styles = [check_size(load_image(path, config.style_size or config.size), min_side(config), "style image")
              for path in style_paths]
    _say(args, f"stylizing {content_path} with {', '.join(map(str, style_paths))}: long side {config.size} px, "
               f"{config.iterations} {config.optimizer} iterations at full size on {device}"
               + (f" after {config.coarse_iterations} at each coarser scale of {config.scales[:-1]}"
                  if len(config.scales) > 1 else ""))
    callback = snapshot_saver(output, args.save_every, content.shape) if args.save_every > 0 else None
    try:
        result = solve_coarse_to_fine(content, styles, config, callback=callback, progress=not args.quiet)
    except NonFiniteLossError as exc:
        save_image(exc.result.image, output)
        raise NSTError(f"{exc} Saved the last finite image to {output}.") from None
    save_image(result.image, output)
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        result = run(args)
    except (NSTError, FileNotFoundError) as exc:
        print(f"nst-tutorial: error: {exc}", file=sys.stderr)
        return 2
    done = result.iterations[-1] if result.iterations else 0
    note = " (stopped early)" if result.stopped else ""
    print(f"wrote {Path(args.output).resolve()} after {done} iterations{note}, "
          f"loss {result.best_loss:.4g}, {time.perf_counter() - start:.1f} s")
    return 0


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)
