"""What a page asks the server for, and what it is told back: plain data that travels as JSON."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

# The settings a visitor may change, by their `Config` field names; the rest is the class's Config.
SETTINGS = ("size", "style_weight", "content_weight", "iterations", "preserve_color")


@dataclass
class Request:
    """One press of Run: the pictures as PNG or JPEG bytes (brought down to the class's size by
    the page) and the visitor's settings."""

    content: bytes
    styles: list[bytes]
    settings: dict[str, Any] = field(default_factory=dict)  # some of SETTINGS
    labels: bytes | None = None  # the painted regions as a PNG of style numbers (255: none), or None

    def to_json(self) -> dict[str, Any]:
        return {"content": _b64(self.content), "styles": [_b64(s) for s in self.styles],
                "settings": self.settings, "labels": None if self.labels is None else _b64(self.labels)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        labels = data.get("labels")
        return cls(base64.b64decode(data["content"]), [base64.b64decode(s) for s in data["styles"]],
                   dict(data.get("settings", {})), None if labels is None else base64.b64decode(labels))


@dataclass
class JobState:
    """Where one job stands, as its visitor's page shows it."""

    job: str
    status: str  # "queued", "running", "done", "stopped", "cancelled" or "failed"
    position: int | None = None  # in the queue, 1 = next; None once it runs
    wait: float | None = None  # seconds until it starts, from the estimator
    seconds: float | None = None  # the estimated length of the solve itself
    iteration: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # term -> loss per iteration
    error: str | None = None  # one line, when it failed
    picture: int = 0  # how many pictures the job has shown: a page fetches the image when it changes
    queued_at: int | None = None  # its position when Run was pressed
    waited: float | None = None  # seconds from Run to a worker
    ran: float | None = None  # seconds on the worker

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobState:
        return cls(**data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
