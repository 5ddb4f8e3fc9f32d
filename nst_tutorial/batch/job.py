"""What a batch solves: a job (a photo, its paintings, the settings), what travels to a worker
(the images' bytes), the hash that names its files, and what comes back."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import Tensor

from ..config import Config
from ..data import resolve_image
from ..errors import ConfigError
from ..images import ImageSource, load_image, to_pil
from ..judge import Scores

FORMAT = 1  # bump when a change makes earlier outputs stale: it is part of every job's hash


@dataclass(frozen=True)
class Job:
    """One solve: a content image, its style(s) (several are blended) and the settings.

    Images are files, or bundled images by name (`data.resolve_image`).
    """

    content: ImageSource
    styles: tuple[ImageSource, ...]
    config: Config = field(default_factory=Config)
    label: str = ""  # names the settings, e.g. "content_weight=1" (a column of the contact sheet)

    def __post_init__(self) -> None:
        styles = self.styles
        object.__setattr__(self, "styles", tuple(styles) if isinstance(styles, (list, tuple)) else (styles,))
        if not self.styles:
            raise ConfigError("a job needs at least one style image")

    @property
    def pair(self) -> str:
        """"<content> / <style>[+<style>...]": a row of the contact sheet."""
        return f"{stem(self.content)} / {'+'.join(stem(s) for s in self.styles)}"

    @property
    def name(self) -> str:
        return f"{self.pair} / {self.label}" if self.label else self.pair


@dataclass
class JobResult:
    """What one job produced, or why it failed (`error`); the sweep goes on either way."""

    job: Job
    key: str = ""  # the job's hash: its files are `path` and `path.with_suffix(".json")`
    path: Path | None = None  # the 8-bit picture written
    image: Tensor | None = None  # that picture, (1, 3, H, W) in [0, 1]
    history: dict[str, list[float]] = field(default_factory=dict)  # term -> loss per iteration
    iterations: list[int] = field(default_factory=list)  # iteration numbers, counted across stages
    seconds: float = 0.0  # the solve's wall time in its worker
    scores: Scores | None = None  # `judge.Judge` scores of the 8-bit picture (single-style jobs)
    error: str | None = None  # one line when the job failed
    resumed: bool = False  # read back from an earlier sweep's files, not solved again
    worker: int | None = None  # process id of the worker that solved it
    built_network: bool = False  # this job built its worker's VGG19 (the first job there did)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total(self) -> list[float]:
        return self.history.get("total", [])

    @property
    def losses(self) -> dict[str, float]:
        """Each loss term's last value (a term the last stage left out has none)."""
        return {term: values[-1] for term, values in self.history.items() if values and not math.isnan(values[-1])}


def jobs(contents: Sequence[str | os.PathLike[str]], styles: Sequence[str | os.PathLike[str] | Sequence],
         configs: Config | dict[str, Config]) -> list[Job]:
    """Every content x every style x every config; a style that is a sequence is a blend.

    `configs` is one Config or `{label: Config}` (e.g. `grid.configs(base, {...})`).
    """
    named = configs if isinstance(configs, dict) else {"": configs}
    out: list[Job] = []
    for content in contents:
        for style in styles:
            blend = tuple(style) if isinstance(style, (list, tuple)) else (style,)
            out.extend(Job(content, blend, config, label) for label, config in named.items())
    return out


def job_key(payload: Payload) -> str:
    """A hash of what decides the picture: the images' bytes and every setting."""
    h = hashlib.sha256(f"nst-tutorial sweep {FORMAT}".encode())
    for data in (payload.content, *payload.styles):
        h.update(hashlib.sha256(data).digest())
    h.update(json.dumps(asdict(payload.config), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Payload:
    """What travels to a worker: the images' bytes, so it needs no access to the driver's files."""

    content: bytes
    styles: tuple[bytes, ...]
    config: Config
    score: bool



def make_payload(job: Job, score: bool) -> Payload:
    def read(source: ImageSource) -> bytes:
        if isinstance(source, (str, os.PathLike)):
            return resolve_image(source).read_bytes()
        if isinstance(source, bytes):
            return source
        png = io.BytesIO()  # an image in memory travels as an 8-bit PNG
        to_pil(load_image(source)).save(png, format="PNG")
        return png.getvalue()

    return Payload(read(job.content), tuple(read(s) for s in job.styles), job.config, score)



def record(result: JobResult) -> dict:
    """A result as JSON-ready data: the job, its settings, losses, scores and files."""
    job = result.job
    return {"name": job.name, "settings": job.label, "content": str(job.content),
            "styles": [str(s) for s in job.styles],
            "config": asdict(job.config), "key": result.key, "image": result.path.name if result.path else None,
            "error": result.error, "seconds": result.seconds, "iterations": result.iterations,
            "history": result.history, "scores": result.scores.as_dict() if result.scores else None}



def stem(source: ImageSource) -> str:
    """A file's name without its suffix; "image" for an image in memory."""
    return Path(source).stem if isinstance(source, (str, os.PathLike)) else "image"


def slug(job: Job) -> str:
    text = f"{stem(job.content)}-{'+'.join(stem(s) for s in job.styles)}"
    return re.sub(r"[^A-Za-z0-9_+.-]+", "_", text)[:80]


