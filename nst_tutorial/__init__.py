"""nst-tutorial: neural style transfer (Gatys et al. 2015) step by step, as the MyCaffe seed builds it.

The seed's procedure, one function each, every one taking the `Config`:
1. `capture_style_targets`: forward the style image, save the Gram matrix of each style layer;
2. `capture_content_targets`: forward the content image, save conv4_2;
3. `augment`: add target inputs, EVENT gates and Euclidean losses; only the image learns;
4. `solve`: forward/backward iterations until the content is painted in the style.
`stylize` runs the four, coarse to fine; `stylize_video` runs it frame by frame (`video`). What
the lesson switches on lives in subpackages below it (`speed`, `control`); what runs it or shows
it lives above (`judge`, `cost`, `batch`, `plots`, `widgets`, `cli`).
"""

from .augment import AugmentedModel, augment
from .config import Config
from .errors import (ConfigError, ImageLoadError, ImageTooSmallError, NonFiniteLossError, NSTError,
                     OutputPathError, UnknownLayerError, WeightsUnavailableError)
from .images import load_image, save_image, to_pil
from .losses import ContentLoss, StyleLoss, event_gate, total_variation
from .solve import SolveResult, solve
from .stages import pick_device
from .style_losses import gram
from .stylize import Inputs, load_inputs, prepare, stylize
from .targets import capture_content_targets, capture_style_targets, features_at
from .vgg import Normalizer, build_vgg19, layer_names

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`stylize_video` (the `video` subpackage) is imported on first use: it brings OpenCV and PyAV."""
    if name == "stylize_video":
        from .video import stylize_video

        return stylize_video
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AugmentedModel", "Config", "ConfigError", "ContentLoss", "ImageLoadError", "ImageTooSmallError", "Inputs",
    "NSTError", "NonFiniteLossError", "Normalizer", "OutputPathError", "SolveResult", "StyleLoss",
    "UnknownLayerError", "WeightsUnavailableError", "augment", "build_vgg19", "capture_content_targets",
    "capture_style_targets", "event_gate", "features_at", "gram", "layer_names", "load_image", "load_inputs",
    "pick_device", "prepare", "save_image", "solve", "stylize", "stylize_video", "to_pil", "total_variation",
]
