"""Load any reasonable image as a (1, 3, H, W) RGB tensor in [0, 1], and save results safely."""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from .decode import MAX_PIXELS, on_white, open_image
from .errors import ImageLoadError, ImageTooSmallError, OutputPathError

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray | Tensor
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def load_image(source: ImageSource, size: int | None = None, max_pixels: int = MAX_PIXELS) -> Tensor:
    """Read a path, bytes, PIL image, (H, W[, C]) array or tensor as RGB (1, 3, H, W) in [0, 1].

    Honours EXIF orientation, accepts L, LA, P, RGBA, CMYK and 16-bit images, and resizes so
    the long side is `size` pixels. uint8 arrays and tensors are read as 0-255; float ones
    must be in [0, 1] (0-255 floats are refused, not clipped to white). Raises
    `ImageLoadError` with a one-line reason.
    """
    if isinstance(source, Tensor):
        return _from_tensor(source, size)
    if isinstance(source, np.ndarray):
        pil = _from_array(source)
    elif isinstance(source, Image.Image):
        pil = source
    else:
        pil = open_image(source, max_pixels)
    rgb = _to_rgb_array(ImageOps.exif_transpose(pil))
    return resize(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0), size)


def image_size(source: ImageSource) -> tuple[int, int]:
    """(H, W) of an image as `load_image` would give it (EXIF rotation applied), reading only the
    header of a file or bytes."""
    if isinstance(source, (str, os.PathLike, bytes)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # `load_image` refuses those
                with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                    w, h = image.size
                    rotated = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientations that swap sides
            return (w, h) if rotated else (h, w)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass  # not readable as it is: `load_image` says why, in one line
    h, w = load_image(source).shape[-2:]
    return h, w


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]; 16-bit and float images keep their full range."""
    if image.mode.startswith("I") or image.mode == "F":
        a = np.asarray(image, dtype=np.float32)
        a = a / (65535.0 if image.mode.startswith("I;16") or a.max() > 255 else 255.0)
        return np.repeat(a[..., None], 3, axis=2).clip(0, 1)
    return np.asarray(on_white(image).convert("RGB"), dtype=np.float32) / 255.0


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageLoadError(f"array of shape {a.shape} is not an (H, W), (H, W, 3) or (H, W, 4) image")
    if a.dtype == np.uint8:
        return Image.fromarray(a)
    if a.dtype == np.uint16:
        return Image.fromarray((a / 257).round().astype(np.uint8))
    check_unit_range(float(a.min()), float(a.max()), f"{a.dtype} array")
    return Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8))


def check_unit_range(low: float, high: float, what: str) -> None:
    """Refuse float pixels outside [0, 1] by more than an 8-bit step: most likely 0-255 values,
    which clipping would silently turn white."""
    if low < -1 / 255 or high > 1 + 1 / 255:
        hint = "; divide by 255 first" if high > 1.5 else ""
        raise ImageLoadError(f"{what} holds values from {low:.4g} to {high:.4g}; float images must be RGB in "
                             f"[0, 1]{hint} (8-bit integer arrays are read as 0-255)")


def _from_tensor(t: Tensor, size: int | None) -> Tensor:
    if t.dtype == torch.uint8:
        t = t.float() / 255
    t = t.detach().float().cpu()
    t = t.unsqueeze(0) if t.ndim == 3 else t
    if t.ndim != 4 or t.shape[:2] != (1, 3):
        raise ImageLoadError(f"tensor of shape {tuple(t.shape)} is not an RGB image (1, 3, H, W) or (3, H, W)")
    if t.numel():
        check_unit_range(t.min().item(), t.max().item(), "tensor")
    return resize(t.clamp(0, 1), size)


def resize(image: Tensor, size: int | tuple[int, ...] | None, mode: str = "bicubic", signed: bool = False) -> Tensor:
    """(B, C, H, W) resized so its long side is `size` (aspect kept), or to exactly `size` = (H, W).

    Pictures: antialiased bicubic, as PIL's, clamped to [0, 1]. `signed`, for a difference of two
    pictures: plain bicubic and no clamp. Masks: `mode` "area" (what pooling does) or "nearest"
    (labels). Returns `image` itself, contiguous, when it has the size already.
    """
    h, w = image.shape[-2:]
    if isinstance(size, int):
        size = long_side(h, w, size)
    if size is None or tuple(size) == (h, w):
        return image.contiguous()
    if mode != "bicubic":
        return F.interpolate(image, size=size, mode=mode)
    if signed:
        return F.interpolate(image, size=size, mode="bicubic", align_corners=False)
    return F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def long_side(height: int, width: int, size: int) -> tuple[int, int]:
    """(H, W) of a height x width picture scaled so its long side is `size`."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_to(image: Tensor, like: Tensor) -> Tensor:
    """`image` resized to the height and width of `like`, on its device: (1, 3, H, W) in [0, 1]."""
    return resize(image, tuple(like.shape[-2:])).to(like.device)


def check_size(image: Tensor, min_side: int, what: str = "image", fix: str = "a larger size") -> Tensor:
    """Raise `ImageTooSmallError` if a side of (1, 3, H, W) is below `min_side` pixels; `fix` says
    which setting to change."""
    h, w = image.shape[-2:]
    if min(h, w) < min_side:
        raise ImageTooSmallError(f"{what} is {w}x{h} pixels; the deepest layer a loss reads needs at least "
                                 f"{min_side} pixels on each side: use {fix}")
    return image


def to_uint8(image: Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> (H, W, 3) uint8, rounded: what an 8-bit file holds."""
    a = image.detach().float().cpu().reshape(-1, *image.shape[-2:]).clamp(0, 1)
    return (a.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def quantise(image: Tensor) -> Tensor:
    """(1, 3, H, W) rounded to multiples of 1/255, as an 8-bit file would hold it; same device."""
    return (image.clamp(0, 1) * 255).round() / 255


def to_pil(image: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> 8-bit RGB PIL image (rounded, as saved)."""
    return Image.fromarray(to_uint8(image))


def check_output_path(path: str | os.PathLike) -> Path:
    """Return `path` if an image can be written there, else raise `OutputPathError`; writes nothing."""
    path = Path(path)
    if path.suffix.lower() not in SAVE_FORMATS:
        raise OutputPathError(f"{path}: use a .png, .jpg or .jpeg file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputPathError(f"{path}: folder {folder} does not exist")
    if path.is_dir():
        raise OutputPathError(f"{path}: is a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{path}: no permission to overwrite this file")
    try:  # the only sure test of a folder is to write in it; the probe file vanishes on close
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputPathError(f"{path}: could not write ({exc.strerror or exc})") from None
    return path


def save_image(image: Tensor, path: str | os.PathLike, quality: int = 95) -> Path:
    """Write (1, 3, H, W) RGB in [0, 1] as PNG or JPEG atomically: a temp file, then a rename."""
    path = check_output_path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            to_pil(image).save(f, format=SAVE_FORMATS[path.suffix.lower()], quality=quality)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputPathError(f"{path}: could not write ({exc.strerror or exc})") from None
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
