"""The bundled sample images (licences in images/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

CONTENT = "u_street_metro.jpg"  # the seed's rail photo stand-in (CC0)
STYLE = "starry_night.jpg"  # the seed's first style (public domain)


def images_dir() -> Path:
    """Folder of the bundled images: inside an installed wheel, else the checkout's `images/`."""
    here = Path(__file__).resolve().parent
    for folder in (here / "images", here.parent / "images"):
        if (folder / "SOURCES.md").is_file():
            return folder
    raise FileNotFoundError(f"bundled images not found next to {here}; reinstall nst-tutorial")


def bundled_images() -> list[str]:
    """File names of the bundled images, sorted."""
    return sorted(p.name for p in images_dir().glob("*.jpg"))


def image_path(name: str) -> Path:
    """Path of a bundled image by file name or stem: `image_path("starry_night")`."""
    for candidate in (name, f"{name}.jpg"):
        path = images_dir() / candidate
        if path.is_file():
            return path
    raise FileNotFoundError(f"no bundled image {name!r}; choose from {', '.join(bundled_images())}")
