"""Reading and writing clips: MP4, WebM and other videos through PyAV (its wheels carry FFmpeg, so
no system ffmpeg is needed), GIFs through Pillow, and folders of numbered images."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..errors import ImageLoadError, OutputPathError
from ..images import ImageSource, image_size, load_image, long_side, resize, to_uint8

VIDEO_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Clip:
    """A clip's frames and how it plays."""

    frames: list[Tensor]  # (1, 3, H, W) in [0, 1], all one size
    fps: Fraction  # frames per second
    names: list[str] | None = None  # a folder's file names, in order


def read_clip(path: str | os.PathLike, size: int | None = None) -> Clip:
    """The frames of a video file, a GIF or a folder of numbered images, each brought to long side
    `size` (None: as stored). Raises `ImageLoadError` with a one-line reason: not a clip, no
    frames, or a folder's frames of different sizes."""
    path = Path(path)
    if path.is_dir():
        clip = _read_folder(path, size)
    elif not path.is_file():
        raise ImageLoadError(f"{path}: no such file or folder")
    elif path.suffix.lower() == ".gif":
        clip = _read_gif(path, size)
    else:
        clip = _read_video(path, size)
    if not clip.frames:
        raise ImageLoadError(f"{path}: the clip has no frames")
    return clip


def check_clip_path(path: str | os.PathLike) -> Path:
    """`path` if a clip can be written there (a kind `write_clip` knows, in a writable folder),
    else `OutputPathError`; writes nothing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix and suffix not in VIDEO_CODECS and suffix != ".gif":
        raise OutputPathError(f"{path}: write a video as .mp4, .webm, .mov, .mkv or .gif, or give a folder")
    folder = path.parent
    if not folder.is_dir():
        raise OutputPathError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputPathError(f"{path}: not writable here")
    return path


def write_clip(frames: Iterable[Tensor], path: str | os.PathLike, fps: Fraction,
               names: list[str] | None = None) -> Path:
    """Write frames (1, 3, H, W) as the kind `path` names: .mp4/.mov/.mkv (H.264), .webm (VP9),
    .gif, or a folder (no suffix) of PNGs named after `names` or numbered.

    H.264 and VP9 store colour at half resolution, so a frame of odd height or width gets its
    last row or column repeated. Raises `OutputPathError` when `path` cannot be written.
    """
    path = check_clip_path(path)
    suffix = path.suffix.lower()
    if suffix == "":
        path.mkdir(exist_ok=True)
        for i, frame in enumerate(frames):
            name = Path(names[i]).stem if names else f"{i + 1:05d}"
            Image.fromarray(to_uint8(frame)).save(path / f"{name}.png")
    elif suffix == ".gif":
        images = [Image.fromarray(to_uint8(f)) for f in frames]
        # a GIF counts time in hundredths of a second
        images[0].save(path, save_all=True, append_images=images[1:], loop=0, duration=10 * round(100 / float(fps)))
    else:
        _write_video([to_uint8(f) for f in frames], path, fps)
    return path


def panned_clip(photo: ImageSource, frames: int = 8, size: int = 256, step: tuple[int, int] = (4, 2),
                thing: ImageSource | None = None, thing_step: tuple[int, int] = (12, 0)) -> Clip:
    """A clip made from one photo: a window of long side `size` panning across it by `step`
    (x, y) pixels a frame, and optionally a round cut-out of `thing` crossing in front of it by
    `thing_step`, so that parts of the background are hidden and uncovered (disocclusions).

    Returns a `Clip` at 8 frames per second; the motion is known exactly, which the tests use.
    """
    (dx, dy), (tx, ty) = step, thing_step
    h, w = long_side(*image_size(photo), size)
    need_h, need_w = h + abs(dy) * (frames - 1), w + abs(dx) * (frames - 1)
    scale = max(need_h / h, need_w / w)
    big = load_image(photo, math.ceil(size * scale))
    disc = None if thing is None else load_image(thing, max(16, min(h, w) // 2))
    out = []
    for i in range(frames):
        y0 = dy * i if dy >= 0 else big.shape[-2] - h + dy * i
        x0 = dx * i if dx >= 0 else big.shape[-1] - w + dx * i
        frame = big[..., y0:y0 + h, x0:x0 + w].clone()
        if disc is not None:
            _paste_disc(frame, disc, (h // 4 + ty * i, w // 8 + tx * i))
        out.append(frame)
    return Clip(out, Fraction(8))


def _paste_disc(frame: Tensor, thing: Tensor, at: tuple[int, int]) -> None:
    """Paste the disc inscribed in `thing` onto `frame` with its top-left corner at `at` (clipped)."""
    _, _, th, tw = thing.shape
    r = min(th, tw) / 2
    ys, xs = torch.meshgrid(torch.arange(th) + 0.5, torch.arange(tw) + 0.5, indexing="ij")
    inside = ((ys - th / 2) ** 2 + (xs - tw / 2) ** 2 <= r * r)
    y, x = at
    height, width = frame.shape[-2:]
    y1, x1, y2, x2 = max(y, 0), max(x, 0), min(y + th, height), min(x + tw, width)
    if y1 >= y2 or x1 >= x2:
        return
    region = frame[..., y1:y2, x1:x2]
    patch = thing[..., y1 - y:y2 - y, x1 - x:x2 - x]
    keep = inside[y1 - y:y2 - y, x1 - x:x2 - x]
    region[..., keep] = patch[..., keep]


def _read_folder(path: Path, size: int | None) -> Clip:
    files = sorted((f for f in path.iterdir() if f.suffix.lower() in FRAME_SUFFIXES), key=_natural)
    sizes = {f.name: image_size(f) for f in files}
    if len(set(sizes.values())) > 1:
        (a, (ha, wa)), (b, (hb, wb)) = list(sizes.items())[0], next((n, s) for n, s in sizes.items()
                                                                   if s != sizes[files[0].name])
        raise ImageLoadError(f"{path}: frames of different sizes, {a} is {wa}x{ha} but {b} is {wb}x{hb}")
    return Clip([load_image(f, size) for f in files], Fraction(25), [f.name for f in files])


def _read_gif(path: Path, size: int | None) -> Clip:
    try:
        with Image.open(path) as gif:
            frames, durations = [], []
            for index in range(getattr(gif, "n_frames", 1)):
                gif.seek(index)
                frames.append(load_image(gif.convert("RGB"), size))
                durations.append(gif.info.get("duration", 100) or 100)
    except OSError as e:
        raise ImageLoadError(f"{path}: not a GIF Pillow can read ({e})") from None
    return Clip(frames, Fraction(1000) / Fraction(round(float(np.median(durations)))))


def _read_video(path: Path, size: int | None) -> Clip:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImageLoadError(f"{path}: holds no video stream")
            stream = container.streams.video[0]
            frames = [resize(torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float() / 255, size)
                      for f in container.decode(stream)]
            fps = stream.average_rate or stream.guessed_rate or Fraction(25)
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise ImageLoadError(f"{path}: not a video or GIF that can be read ({type(e).__name__})") from None
    return Clip(frames, Fraction(fps))


def _write_video(frames: list[np.ndarray], path: Path, fps: Fraction) -> None:
    import av

    h, w = frames[0].shape[:2]
    try:
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(VIDEO_CODECS[path.suffix.lower()], rate=fps)
            stream.height, stream.width, stream.pix_fmt = h + h % 2, w + w % 2, "yuv420p"
            stream.options = {"crf": "18"} if stream.codec_context.name == "libx264" else {"crf": "24", "b": "0"}
            for a in frames:
                even = np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                container.mux(stream.encode(av.VideoFrame.from_ndarray(even, format="rgb24")))
            container.mux(stream.encode())
    except (av.error.FFmpegError, OSError) as e:
        raise OutputPathError(f"{path}: cannot write the video ({e})") from None


def _natural(path: Path) -> list[object]:
    """Sort key that puts frame2.png before frame10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
