"""The Gram explorer: pick a style layer and a channel range, see the target, current and difference Gram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W
from torch import Tensor

from ..plots import gram_heatmaps, update_gram_heatmaps
from .base import Messages, shows_errors
from .figure import FigureView

class GramExplorer(W.VBox):
    """Pick a style layer and a channel range; see target, current and difference Gram heatmaps.

    The slider's two handles are the first and the last channel shown, both included, so every
    position of the handles is a range it can draw: together they show one channel.
    """

    def __init__(self, targets: Mapping[str, Tensor], current: Mapping[str, Tensor], window: int = 64) -> None:
        self.targets, self.current = dict(targets), dict(current)
        first = next(iter(self.targets))
        self.layer = W.Dropdown(options=list(self.targets), value=first, description="layer")
        self.channels = W.IntRangeSlider(description="channels", continuous_update=False,
                                         layout=W.Layout(width="60%"))
        self.messages, self.last_traceback = Messages(), None
        self.view = FigureView(11.0, 3.4, ncols=3)
        self._set_channel_limits(window)
        self.heatmaps = gram_heatmaps(self.targets[first], self.current[first], self.shown(), axes=self.view.axes)
        self._redraw()
        self.layer.observe(self._on_layer, names="value")
        self.channels.observe(self._on_channels, names="value")
        super().__init__([W.HBox([self.layer, self.channels]), self.view, self.messages])

    def shown(self) -> tuple[int, int]:
        """The channels the heatmaps show, as a half-open range (first, last + 1)."""
        lo, hi = self.channels.value
        return lo, hi + 1

    def _set_channel_limits(self, window: int, first: int = 0) -> None:
        """The slider for the current layer's channels: from `first` (or the last channel, if the
        layer has fewer), `window` channels wide where they fit."""
        c = self.targets[self.layer.value].shape[-1]
        lo = min(first, c - 1)
        with self.channels.hold_trait_notifications():  # validate min, max and value together
            self.channels.min, self.channels.max = 0, c - 1
            self.channels.value = (lo, min(lo + window, c) - 1)

    @shows_errors
    def _on_layer(self, change: Any) -> None:
        lo, hi = self.channels.value
        self._set_channel_limits(hi - lo + 1, lo)
        self._redraw()

    @shows_errors
    def _on_channels(self, change: Any) -> None:
        self._redraw()

    def _redraw(self) -> None:
        name = self.layer.value
        lo, hi = self.shown()
        update_gram_heatmaps(self.heatmaps, self.targets[name], self.current[name], (lo, hi))
        self.heatmaps[0].axes.set_title(f"style target {name}")
        self.view.refresh()
        shown = f"channel {lo}" if hi - lo == 1 else f"channels {lo}-{hi - 1}"
        self.messages.info(f"{name}: {shown} of {self.targets[name].shape[-1]}")
