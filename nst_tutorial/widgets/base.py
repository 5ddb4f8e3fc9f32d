"""What every widget here is built from: a message line, and callbacks whose errors land in it.

No matplotlib and no torch: the classroom's pages are built from these too (`figure` holds the
matplotlib view).
"""

from __future__ import annotations

import functools
import html
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ..errors import NSTError


class Messages(W.HTML):
    """One line of status or error text inside a widget."""

    def info(self, *lines: str) -> None:
        self.value = "<br>".join(f"<span>{html.escape(line)}</span>" for line in lines)

    def error(self, text: str) -> None:
        self.value = f"<b style='color:#b00020'>Error:</b> <span style='color:#b00020'>{html.escape(text)}</span>"


def shows_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a widget callback so an exception appears in `self.messages`, not in a lost log."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - anything a callback raises must reach the user
            self.messages.error(explain(exc))
            self.last_traceback = traceback.format_exc()
    return wrapper


def explain(exc: BaseException) -> str:
    """An error in words for the person at the widget: our errors say what to fix, so their text
    is enough; anything else is a bug, named by its type."""
    return str(exc) if isinstance(exc, NSTError) else f"unexpected {type(exc).__name__}: {exc}"
