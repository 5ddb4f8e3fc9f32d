"""Open an image file or bytes with Pillow, with a one-line reason when it cannot be.

No torch here: the classroom's pages (`classroom.visitor`) open photos with it too.
`images.load_image` turns what this opens into a tensor.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

MAX_PIXELS = 89_478_485  # Pillow's decompression-bomb limit; larger files are refused, not decoded
# ISO media brands of HEIF/HEIC/AVIF files: what a phone sends that Pillow cannot decode
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


def open_image(source: str | os.PathLike | bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A file or bytes, decoded by Pillow (not yet rotated or converted); `ImageLoadError` if not."""
    name = "uploaded data" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.exists():
            raise ImageLoadError(f"{name}: no such file")
        if path.is_dir():
            raise ImageLoadError(f"{name}: is a directory, not an image file")
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{name}: the file is empty")
        source = path.read_bytes()
    elif not source:
        raise ImageLoadError(f"{name}: empty")
    if source[4:8] == b"ftyp" and source[8:12] in HEIF_BRANDS:
        raise ImageLoadError(f"{name}: a HEIC/HEIF photo, which this package cannot read; on the phone, "
                             "share it as JPEG (iPhone: Settings > Camera > Formats > Most Compatible)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source))
            if image.width * image.height > max_pixels:
                raise Image.DecompressionBombError("too many pixels")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(f"{name}: more than {max_pixels:,} pixels; "
                             "refusing to decode a possible decompression bomb") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{name}: damaged or truncated image ({exc})") from None
    return image


def upright_rgb(image: Image.Image, size: int | None = None) -> Image.Image:
    """8-bit RGB, turned as its EXIF orientation says, transparency on white, and brought down
    (never up) so its long side is at most `size`."""
    image = on_white(ImageOps.exif_transpose(image)).convert("RGB")
    if size is not None and max(image.size) > size:
        image = ImageOps.contain(image, (size, size), Image.Resampling.LANCZOS)
    return image


def on_white(image: Image.Image) -> Image.Image:
    """A transparent image composited on white, so its clear areas do not turn into arbitrary
    colours; any other image as it is."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image
