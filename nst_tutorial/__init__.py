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

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a reader and the type checker see; at run time each is imported on first use
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
    from .video import stylize_video

__version__ = "0.1.0"

# name -> the module that defines it. Nothing is imported until it is used, so a page that shows
# only widgets (`classroom.visitor`) runs without torch.
_EXPORTS = {
    **dict.fromkeys(["AugmentedModel", "augment"], "augment"), "Config": "config",
    **dict.fromkeys(["ConfigError", "ImageLoadError", "ImageTooSmallError", "NonFiniteLossError", "NSTError",
                     "OutputPathError", "UnknownLayerError", "WeightsUnavailableError"], "errors"),
    **dict.fromkeys(["load_image", "save_image", "to_pil"], "images"),
    **dict.fromkeys(["ContentLoss", "StyleLoss", "event_gate", "total_variation"], "losses"),
    **dict.fromkeys(["SolveResult", "solve"], "solve"), "pick_device": "stages", "gram": "style_losses",
    **dict.fromkeys(["Inputs", "load_inputs", "prepare", "stylize"], "stylize"),
    **dict.fromkeys(["capture_content_targets", "capture_style_targets", "features_at"], "targets"),
    **dict.fromkeys(["Normalizer", "build_vgg19", "layer_names"], "vgg"),
    "stylize_video": "video",  # brings OpenCV and PyAV
}


class _Lesson(types.ModuleType):
    """The package, whose exported names load on first use. Three steps share their module's name
    (`augment`, `solve`, `stylize`): importing the module must not replace the function."""

    def __getattr__(self, name: str) -> Any:
        if name not in _EXPORTS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the import system naming a submodule after a step: the step keeps its name
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_EXPORTS})


sys.modules[__name__].__class__ = _Lesson

__all__ = [
    "AugmentedModel", "Config", "ConfigError", "ContentLoss", "ImageLoadError", "ImageTooSmallError", "Inputs",
    "NSTError", "NonFiniteLossError", "Normalizer", "OutputPathError", "SolveResult", "StyleLoss",
    "UnknownLayerError", "WeightsUnavailableError", "augment", "build_vgg19", "capture_content_targets",
    "capture_style_targets", "event_gate", "features_at", "gram", "layer_names", "load_image", "load_inputs",
    "pick_device", "prepare", "save_image", "solve", "stylize", "stylize_video", "to_pil", "total_variation",
]
