"""The one place that holds the defaults of a style transfer run."""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, fields

from .errors import ConfigError
from .style_losses import KINDS
from .vgg import check_layer

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
WEIGHTS = ("caffe", "torchvision")
EUCLIDEANS = ("mean", "caffe")
PRESERVE_COLORS = (None, "luminance", "histogram")
COLOR_MATCHES = ("eigen", "cholesky")
STYLE_RESIZES = ("long_side", "content")
COARSE_CARRIES = ("image", "change")
PRECISIONS = ("auto", "float32", "bfloat16")
INITS = ("content", "palette", "noise")  # or a path to an image
SEED_ITERATIONS = 200  # the seed's "around 200" iterations of a plain solve, all at full size


@dataclass(frozen=True)
class Config:
    """Settings of one run; change one with `dataclasses.replace(cfg, size=384)`."""

    # Step 1: the seed's GRAM layers and MyCaffe's weight of 0.2 on each.
    style_layers: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")  # matched in style
    style_layer_weights: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)  # one per style layer (MyCaffe's 0.2)
    style_loss: str = "gram"  # a key of style_losses.KINDS: gram, linear, bn, gaussian, sliced_wasserstein, ...
    style_weight: float = 50.0  # scales the style term; 50 x 0.2 = 10 per layer, as pastiche
    gram_scale: float | None = None  # None: G = F F^T / (C H W); a: MyCaffe's G = a F F^T, gradient without a
    style_channel_scale: bool = False  # MyCaffe's get_style_scale: each style layer's weight times 1 / (4 C^4)
    style_layer_sources: tuple[int, ...] | None = None  # style (0, 1, ...) of each style layer; None: blend all
    preserve_color: str | None = None  # keep the photo's colours (Gatys et al. 2016): "luminance" or "histogram"
    color_match: str = "eigen"  # for "histogram": "eigen" (symmetric square roots) or "cholesky"
    # Step 2: the content layer and its weight.
    content_layers: tuple[str, ...] = ("conv4_2",)  # matched to the photo's features: what is where
    content_layer_weights: tuple[float, ...] = (1.0,)  # one per content layer
    content_weight: float = 0.45  # weight of the content term at full size; 0.45 keeps the photo's structure at 256 px
    content_scale: float | None = None  # MyCaffe's SCALAR: features, target times this; gradient unscaled
    euclidean: str = "mean"  # "mean": mean of squares; "caffe": Caffe's EUCLIDEAN_LOSS, sum of squares / (2 * batch)
    tv_weight: float = 0.0  # total variation; smooths high-frequency noise when > 0
    temporal_weight: float = 20.0  # video: holds a frame to earlier results warped along the flow (Ruder et al.)
    temporal_frames: tuple[int, ...] = (1,)  # video: frames back the temporal loss looks; (1, 2, 4): long-term
    later_frame_iterations: int = 25  # video: cap on each frame after the first, which starts from the last result
    # Step 3: how the network is augmented.
    event_gate: bool = True  # the seed's EVENT layer: zero the gradient where the target is exactly 0
    relu_in_place: bool = True  # Caffe's in-place ReLU: blob `conv4_2` holds post-ReLU values
    pooling: str = "max"  # "max" as in VGG19, or "avg" as Gatys et al. suggest
    ceil_mode: bool = False  # round pooled sizes up, as Caffe does (75 px -> 38); False rounds down as PyTorch
    weights: str = "caffe"  # "caffe": Simonyan & Zisserman's, 8-bit, from pastiche; "torchvision": downloads
    fast_conv: bool = True  # on the CPU, NNPACK on large maps, Winograd F(4x4, 3x3) on small: same to ~1e-5
    low_memory: bool = False  # NNPACK in strips, no Winograd kernels, bfloat16 L-BFGS pairs: less memory, slower
    precision: str = "auto"  # CPU convolutions: float32, bfloat16 (2x faster, rounds 0.2%); auto: bf16 for gram if able
    # Step 4: the solve.
    size: int = 256  # long side of the content image in pixels (CPU-friendly)
    style_size: int | None = None  # long side of the style image; None: same as `size`
    style_resize: str = "long_side"  # "long_side": keep its aspect; "content": stretch to the content's (MyCaffe)
    iterations: int = 40  # at full size, after the coarse stages; a plain solve needs SEED_ITERATIONS (200)
    scales: tuple[float, ...] = (0.5, 1.0)  # coarse-to-fine stages, fractions of `size`; (1.0,): plain
    coarse_iterations: int = 60  # iterations at each stage before the full-size one (a cap, with tolerance)
    coarse_content: float = 0.8  # coarse stages weigh the content this much of content_weight: they lay out style
    full_size_deepest: str | None = "conv4_2"  # after coarse stages, full size stops here; deeper: large forms, set
    coarse_carry: str = "change"  # a stage starts from the photo plus the last one's change, or from its "image"
    tolerance: float = 0.015  # end a stage once its loss falls by less than this fraction over tolerance_window
    tolerance_window: int = 5  # iterations over which `tolerance` compares the loss (coarse stages: see stage_config)
    optimizer: str = "lbfgs"  # "lbfgs" (Gatys et al.) or "adam"
    lbfgs_history: int = 50  # curvature pairs L-BFGS remembers (2 image copies each, taken at the start)
    adam_lr: float = 5.0  # step size in 0-255 pixel units
    init: str = "palette"  # "content", "palette" (the photo in the paintings' colours), "noise", or an image path
    seed: int = 0  # makes "noise" init reproducible
    device: str = "auto"  # "auto": CUDA, then MPS, then CPU

    def __post_init__(self) -> None:
        _pairs(self.style_layers, self.style_layer_weights, "style")
        _pairs(self.content_layers, self.content_layer_weights, "content")
        for name in (*self.style_layers, *self.content_layers):
            check_layer(name)
        if self.full_size_deepest is not None:
            check_layer(self.full_size_deepest)
        if not self.style_layers and not self.content_layers:
            raise ConfigError("at least one style or content layer is needed")
        for name in ("style_weight", "content_weight", "tv_weight", "temporal_weight"):
            _weight(getattr(self, name), name)
        _choice(self.optimizer, OPTIMIZERS, "optimizer")
        _choice(self.style_loss, tuple(KINDS), "style_loss")
        if self.gram_scale is not None and self.style_loss != "gram":
            raise ConfigError(f"gram_scale is an option of the Gram style loss, not of {self.style_loss!r}")
        _choice(self.pooling, POOLINGS, "pooling")
        _choice(self.weights, WEIGHTS, "weights")
        _choice(self.euclidean, EUCLIDEANS, "euclidean")
        _choice(self.style_resize, STYLE_RESIZES, "style_resize")
        _choice(self.coarse_carry, COARSE_CARRIES, "coarse_carry")
        _choice(self.precision, PRECISIONS, "precision")
        _choice(self.preserve_color, PRESERVE_COLORS, "preserve_color")
        _choice(self.color_match, COLOR_MATCHES, "color_match")
        sources = self.style_layer_sources
        if sources is not None and (len(sources) != len(self.style_layers) or
                                    any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in sources)):
            raise ConfigError(f"style_layer_sources needs one style index (0, 1, ...) per style layer; "
                              f"{len(self.style_layers)} layers, got {sources!r}")
        for name in ("gram_scale", "content_scale"):
            value = getattr(self, name)
            if value is not None:
                _weight(value, name)
                if value == 0:
                    raise ConfigError(f"{name} must be None or a number > 0, got 0")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ConfigError(f"iterations must be a whole number >= 1, got {self.iterations!r}")
        for name in ("size", "style_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 16):
                raise ConfigError(f"{name} must be a whole number of at least 16 pixels, got {value!r}")
        if (not self.scales or self.scales[-1] != 1.0 or any(not 0 < s <= 1 for s in self.scales)
                or any(b <= a for a, b in zip(self.scales, self.scales[1:]))):
            raise ConfigError(f"scales must be increasing fractions in (0, 1] ending with 1, got {self.scales!r}")
        if not isinstance(self.coarse_iterations, int) or self.coarse_iterations < 0:
            raise ConfigError(f"coarse_iterations must be a whole number >= 0, got {self.coarse_iterations!r}")
        _weight(self.coarse_content, "coarse_content")
        style = self.style_weight * sum(self.style_layer_weights)
        content = self.content_weight * sum(self.content_layer_weights)
        if style == 0 and content == 0 and self.tv_weight == 0:
            raise ConfigError("every weight is 0, so there is nothing to solve: give the style or the content "
                              "a weight above 0")
        if not (isinstance(self.tolerance, (int, float)) and 0 <= self.tolerance < 1) or self.tolerance_window < 1:
            raise ConfigError(f"tolerance must be a fraction in [0, 1) and tolerance_window >= 1, got "
                              f"{self.tolerance!r} and {self.tolerance_window!r}")
        if self.lbfgs_history < 1 or not self.adam_lr > 0:
            raise ConfigError("lbfgs_history must be >= 1 and adam_lr > 0")
        later = self.later_frame_iterations
        if isinstance(later, bool) or not isinstance(later, int) or later < 1:
            raise ConfigError(f"later_frame_iterations must be a whole number >= 1, got {later!r}")
        if (not self.temporal_frames or len(set(self.temporal_frames)) != len(self.temporal_frames)
                or any(isinstance(j, bool) or not isinstance(j, int) or j < 1 for j in self.temporal_frames)):
            raise ConfigError(f"temporal_frames must be distinct whole numbers >= 1 (frames back), "
                              f"got {self.temporal_frames!r}")

    @classmethod
    def mycaffe(cls, **changes: object) -> Config:
        """The arithmetic of MyCaffe's `NeuralStyleTransfer.cs`, as a preset; `changes` override fields.

        GRAM layers with alpha = 1e-4 and no division by C H W (disable_scaling_on_gradient:
        the backward pass does not multiply by alpha); style losses of weight 0.2 x 1 / (4 C^4)
        on Caffe's Euclidean loss; content features and target through a SCALAR of 1e-4
        (gradient passed through unscaled), then EVENT, with a loss scale of 1e-4; pooling that
        rounds up; the style stretched to the content's size; content at most 640 px; one
        full-size L-BFGS solve of 200 iterations with unit steps from the content image; float32. The
        README's table lists what is MyCaffe's and what differs.
        """
        preset: dict[str, object] = dict(
            style_layer_weights=(0.2,) * 5, style_weight=1.0, gram_scale=1e-4, style_channel_scale=True,
            content_weight=1e-4, content_scale=1e-4, euclidean="caffe", event_gate=True, relu_in_place=True,
            pooling="max", ceil_mode=True, size=640, style_resize="content", scales=(1.0,), iterations=SEED_ITERATIONS,
            tolerance=0.0, optimizer="lbfgs", init="content", tv_weight=0.0, precision="float32")
        return cls(**{**preset, **changes})  # type: ignore[arg-type]


def _document_fields(cls: type[Config]) -> None:
    """Append each field's default and source comment to the docstring, so `help(Config)` explains
    every field while the source keeps one short comment beside each."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (a frozen app): keep the short docstring
        return
    comments = dict(re.findall(r"^    (\w+): [^\n]*?  # ([^\n]*)$", source, flags=re.MULTILINE))
    rows = [f"    {f.name} = {f.default!r}\n        {comments.get(f.name, '')}" for f in fields(cls)]
    cls.__doc__ = f"{cls.__doc__}\n\nFields, with their defaults:\n\n" + "\n".join(rows)


def _weight(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def _pairs(layers: tuple[str, ...], weights: tuple[float, ...], kind: str) -> None:
    if len(layers) != len(weights):
        raise ConfigError(f"{len(layers)} {kind} layers but {len(weights)} {kind} layer weights")
    if len(set(layers)) != len(layers):
        raise ConfigError(f"a {kind} layer is listed twice: {layers}")
    for w in weights:
        _weight(w, f"{kind} layer weight")


def _choice(value: str | None, allowed: tuple[str | None, ...], name: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


_document_fields(Config)
