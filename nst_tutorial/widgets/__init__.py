"""Widgets for the notebooks, each a view with its controller: the Gram explorer, the live solve
view, the mask painter and the Evaluator app. Errors in a callback show in the widget.

Each loads on first use: the mask painter runs without torch, in the classroom's pages."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .gram_explorer import GramExplorer
    from .live import LiveSolve
    from .painter import MaskPainter

_EXPORTS = {"Evaluator": "evaluator", "GramExplorer": "gram_explorer", "LiveSolve": "live", "MaskPainter": "painter"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = ["Evaluator", "GramExplorer", "LiveSolve", "MaskPainter"]
