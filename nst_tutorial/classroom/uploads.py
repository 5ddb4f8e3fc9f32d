"""A visitor's upload: a phone photo turned upright and brought down to the class's size (no torch)."""

from __future__ import annotations

import io

from PIL import Image

from ..decode import open_image, upright_rgb
from ..errors import ImageLoadError

MAX_UPLOAD_BYTES = 20 * 2**20  # a phone photo is 2-12 MB; more is not a photo to paint


def read_upload(data: bytes, size: int, name: str = "the file") -> bytes:
    """An uploaded file as PNG bytes: decoded, turned as its EXIF says, RGB, its long side at
    most `size`. `ImageLoadError` with one line for what cannot be painted (not an image, HEIC,
    over 20 MB)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageLoadError(f"{name} is {len(data) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        image = upright_rgb(open_image(data), size)
    except ImageLoadError as exc:
        raise ImageLoadError(str(exc).replace("uploaded data", name, 1)) from None
    return png_bytes(image)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
