"""A small grid of settings: every combination of a few `Config` fields' values, for a sweep.

A grid file is JSON: `{"content_weight": [0.05, 0.2, 1], "style_loss": ["gram", "w2"]}` gives six
settings. Keys are `Config`'s field names (dashes may stand for underscores); lists stand for
tuples (`"scales": [[1], [0.25, 0.5, 1]]`).
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError

FIELDS = {f.name for f in fields(Config)}


def configs(base: Config, grid: Mapping[str, Sequence[Any]]) -> dict[str, Config]:
    """`{"content_weight=0.05, style_loss=gram": Config(...), ...}`: `base` with each combination.

    An empty grid gives `{"": base}`. Raises `ConfigError` naming a bad field or value.
    """
    for name, values in grid.items():
        if name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f"did you mean {' or '.join(close)}?" if close else "nst_tutorial.Config's fields are the settings"
            raise ConfigError(f"grid: {name!r} is not a setting; {hint}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"grid: {name} needs a non-empty list of values, got {values!r}")
    out = {}
    for combo in itertools.product(*grid.values()):
        changes = {name: _field_value(v) for name, v in zip(grid, combo)}
        label = ", ".join(f"{name}={_show(v)}" for name, v in changes.items())
        try:
            out[label] = replace(base, **changes)
        except ConfigError as exc:
            raise ConfigError(f"grid: {label}: {exc}") from None
    return out


def load_grid(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """Read a grid file; one-line `ConfigError` when it is missing, not JSON or not a grid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise ConfigError(f"{path}: cannot read the grid file ({reason})") from None
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); a grid looks like "
                          '{"content_weight": [0.05, 0.2, 1]}') from None
    if not isinstance(grid, dict):
        raise ConfigError(f'{path}: a grid is a JSON object of lists, like {{"content_weight": [0.05, 0.2, 1]}}')
    return {name.replace("-", "_"): values for name, values in grid.items()}


def _field_value(value: Any) -> Any:
    return tuple(_field_value(v) for v in value) if isinstance(value, list) else value


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
