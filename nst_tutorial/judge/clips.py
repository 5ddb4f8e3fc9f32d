"""A painted clip judged: how steady it is, and each frame on both axes, from 8-bit frames."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from torch import Tensor

from ..images import ImageSource
from ..video.paint import Frame
from ..video.steadiness import warping_errors
from .metrics import Judge


@dataclass(frozen=True)
class ClipScores:
    """Means over a clip; the per-frame lists are kept beside them."""

    warping_error: float  # mean over consecutive pairs, 8-bit levels squared: 0 is steady
    content_fidelity: float  # mean over frames, each against its input frame (higher keeps more photo)
    style_sw: float  # mean over frames, held-out style distance to the painting (lower carries more painting)
    first_s: float  # seconds on the first frame
    later_s: float | None  # median seconds on each later frame
    per_frame: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def judge_clip(painted: Sequence[Frame], frames: Sequence[Tensor], painting: ImageSource) -> ClipScores:
    """Score `painted` (what `stylize_video` yielded) against the input `frames` and the painting."""
    images = [f.image for f in painted]
    first = Judge(frames[0], painting)  # its VGG19 and decoded painting serve every frame's judge
    scores = [Judge(c, first.style, net=first.net).score(f) for c, f in zip(frames, images)]
    per_frame = {"warping_error": warping_errors(images, frames), "seconds": [f.seconds for f in painted],
                 "content_fidelity": [s.content_fidelity for s in scores], "style_sw": [s.style_sw for s in scores]}
    later = per_frame["seconds"][1:]
    return ClipScores(statistics.mean(per_frame["warping_error"]) if len(images) > 1 else 0.0,
                      statistics.mean(per_frame["content_fidelity"]), statistics.mean(per_frame["style_sw"]),
                      per_frame["seconds"][0], statistics.median(later) if later else None, per_frame)
