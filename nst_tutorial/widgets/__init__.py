"""Widgets for the notebooks, each a view with its controller: the Gram explorer, the live solve
view, the mask painter and the Evaluator app. Errors in a callback show in the widget."""

from .evaluator import Evaluator
from .gram_explorer import GramExplorer
from .live import LiveSolve
from .painter import MaskPainter

__all__ = ["Evaluator", "GramExplorer", "LiveSolve", "MaskPainter"]
