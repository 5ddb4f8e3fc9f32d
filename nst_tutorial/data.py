"""The bundled sample images (licences in images/SOURCES.md)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ImageLoadError

CONTENT = "u_street_metro.jpg"  # the seed's rail photo stand-in (CC0)
STYLE = "starry_night.jpg"  # the seed's first style (public domain)


def images_dir() -> Path:
    """Folder of the bundled images: inside an installed wheel, else the checkout's `images/`."""
    here = Path(__file__).resolve().parent
    for folder in (here / "sample_images", here.parent / "images"):  # a wheel's, a checkout's
        if (folder / "SOURCES.md").is_file():
            return folder
    raise FileNotFoundError(f"bundled images not found next to {here}; reinstall nst-tutorial")


def bundled_images() -> list[str]:
    """File names of the bundled images, sorted."""
    return sorted(p.name for p in images_dir().glob("*.jpg"))


def resolve_image(name: str | os.PathLike[str]) -> Path:
    """A path that exists, or else a bundled image by name (`"starry_night"` or `"starry_night.jpg"`).

    A path always wins when it exists; raises `ImageLoadError` naming both when neither does.
    """
    path = Path(name)
    if path.exists():
        return path
    try:
        return image_path(str(name))
    except FileNotFoundError:
        raise ImageLoadError(f"{name}: no such file, and no bundled image of that name "
                             "(nst-tutorial --list-images shows them)") from None


def image_sources() -> dict[str, str]:
    """Each bundled image's licence in a few words, read from images/SOURCES.md: `{"coffee.jpg": "CC0."}`."""
    sources = {}
    for line in (images_dir() / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1].startswith("`") and cells[1].split("`")[1].endswith(".jpg"):
            name, licence = cells[1].split("`")[1], cells[3]
            bold = licence.startswith("**")  # "**CC0 1.0.** The source ...": the bold part says it
            first = (licence.split("**")[1] if bold else licence.split(". ")[0]).rstrip(".")
            sources[name] = first + (" (see the note in SOURCES.md)" if "⚠" in cells[1] else "")
    return sources


def image_path(name: str) -> Path:
    """Path of a bundled image by file name or stem: `image_path("starry_night")`."""
    for candidate in (name, f"{name}.jpg"):
        path = images_dir() / candidate
        if path.is_file():
            return path
    raise FileNotFoundError(f"no bundled image {name!r}; choose from {', '.join(bundled_images())}")
