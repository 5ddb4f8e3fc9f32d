"""Judge a finished picture with numbers no loss optimised (`metrics`: content kept, style
arrived, colour), measure what a control did (`controls`), what the EVENT gate zeroes (`gate`),
and how steady a painted clip is (`clips`)."""

from .metrics import Judge, Scores

__all__ = ["Judge", "Scores"]
