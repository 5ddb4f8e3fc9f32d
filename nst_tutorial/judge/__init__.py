"""Judge a finished picture with numbers no loss optimised (`metrics`: content kept, style
arrived, colour), measure what a control did (`controls`), and what the EVENT gate zeroes (`gate`)."""

from .metrics import Judge, Scores

__all__ = ["Judge", "Scores"]
