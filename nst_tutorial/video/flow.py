"""Dense optical flow between two frames with OpenCV's DIS (Kroeger et al. 2016): fast on a CPU,
where the paper's DeepFlow and EpicFlow binaries take minutes per frame."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from ..images import to_uint8

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def optical_flow(source: Tensor, target: Tensor, preset: str = "medium") -> Tensor:
    """Flow (1, 2, H, W), (x, y) in pixels, with source(p) ~ target(p + flow(p)).

    `source` and `target` are RGB frames (1, 3, H, W) in [0, 1]; DIS reads their 8-bit grey.
    For frame i, the flow to frame i - 1 tells where each pixel came from (`warp` follows it).
    """
    dis = cv2.DISOpticalFlow.create(PRESETS[preset])
    flow = np.asarray(dis.calc(_grey(source), _grey(target), None))  # type: ignore[call-overload]
    return torch.from_numpy(flow).permute(2, 0, 1).unsqueeze(0).to(source.device)


def _grey(frame: Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W) uint8 grey, contiguous, as DIS reads it."""
    return np.ascontiguousarray(cv2.cvtColor(to_uint8(frame), cv2.COLOR_RGB2GRAY))
