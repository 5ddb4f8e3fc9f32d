"""Exception types: each names one problem a user can fix."""

from __future__ import annotations

from typing import Any


class NSTError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageLoadError(NSTError):
    """An input image is missing, unreadable, not an image, or unsafe to decode."""


class ImageTooSmallError(ImageLoadError):
    """An image has too few pixels to survive the pooling before the deepest layer."""


class ConfigError(NSTError, ValueError):
    """A setting is out of range: a weight, a layer name, an iteration count."""


class UnknownLayerError(ConfigError):
    """A layer name is not one of VGG19's (`conv1_1` ... `conv5_4`, `relu*`, `pool*`)."""


class OutputPathError(NSTError):
    """The output file cannot be written (missing folder, no permission, bad suffix)."""


class WeightsUnavailableError(NSTError):
    """The requested network weights cannot be loaded (for example offline)."""


class NonFiniteLossError(NSTError):
    """The loss became NaN or infinite; `.result` keeps the last finite image."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result
