"""Know the cost before you run: predicted peak memory and time (`estimate`), from counts of the
work (`model`) and this machine's measured constants (`calibrate`)."""

from .calibrate import Calibration, calibrate
from .estimate import Estimate, available_memory_mb, duration, estimate, largest_size

__all__ = ["Calibration", "Estimate", "available_memory_mb", "calibrate", "duration", "estimate", "largest_size"]
