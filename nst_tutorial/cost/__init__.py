"""Know the cost before you run: predicted peak memory and time (`estimate`), from counts of the
work (`model`) and this machine's measured constants (`calibrate`)."""

from .calibration import Calibration, calibrate, check_speed
from .estimate import Estimate, available_memory_mb, duration, estimate, largest_size

__all__ = ["Calibration", "Estimate", "available_memory_mb", "calibrate", "check_speed", "duration", "estimate",
           "largest_size"]
