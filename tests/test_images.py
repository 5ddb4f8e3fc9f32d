"""Loading odd-but-valid images, refusing bad ones with a clear error, saving atomically."""

from __future__ import annotations

import io
import numpy as np
import pytest
import torch
from PIL import Image

import nst_tutorial as nt
from nst_tutorial.images import save_image

W, H = 40, 30


def gradient_rgb() -> Image.Image:
    a = np.zeros((H, W, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, W)[None, :]
    a[..., 1] = np.linspace(0, 255, H)[:, None]
    a[..., 2] = 128
    return Image.fromarray(a)


def save(img: Image.Image, path, **kw) -> str:
    img.save(path, **kw)
    return str(path)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "RGB", "I;16"])
def test_modes_load_as_rgb_in_unit_range(tmp_path, mode):
    src = gradient_rgb().convert("L" if mode == "I;16" else mode)
    if mode == "I;16":  # a real 16-bit PNG: values up to 65535
        src = Image.fromarray(np.asarray(src, np.uint16) * 257)
        assert src.mode.startswith("I;16")
    x = nt.load_image(save(src, tmp_path / "a.png"))
    assert x.shape == (1, 3, H, W) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    if mode in ("L", "I;16"):
        gray = np.asarray(gradient_rgb().convert("L"), np.float32) / 255
        assert torch.allclose(x[0, 0], torch.from_numpy(gray), atol=1 / 255)


def test_cmyk_jpeg_loads(tmp_path):
    x = nt.load_image(save(gradient_rgb().convert("CMYK"), tmp_path / "c.jpg", quality=95))
    ref = torch.from_numpy(np.asarray(gradient_rgb(), np.float32) / 255).permute(2, 0, 1)
    assert x.shape == (1, 3, H, W)
    assert (x[0] - ref).abs().mean() < 0.05


def test_exif_orientation_is_honoured(tmp_path):
    img = gradient_rgb()
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    x = nt.load_image(save(img, tmp_path / "r.jpg", exif=exif.tobytes()))
    assert x.shape == (1, 3, W, H)


def test_panorama_resizes_by_long_side(tmp_path):
    pano = Image.new("RGB", (600, 100), "teal")
    x = nt.load_image(save(pano, tmp_path / "p.png"), size=120)
    assert x.shape == (1, 3, 20, 120)


def test_pil_array_and_tensor_sources_agree(tmp_path):
    img = gradient_rgb()
    a = nt.load_image(img)
    assert torch.allclose(a, nt.load_image(np.asarray(img)))
    assert torch.allclose(a, nt.load_image(a[0]))
    assert torch.allclose(a, nt.load_image(save(img, tmp_path / "g.png")))


def make_bad(kind: str, tmp_path):
    if kind == "missing":
        return tmp_path / "nope.jpg"
    if kind == "directory":
        return tmp_path
    path = tmp_path / "bad.jpg"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not an image":
        path.write_text("hello, I am text")
    elif kind == "truncated jpeg":
        buf = io.BytesIO()
        gradient_rgb().resize((400, 300)).save(buf, "JPEG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif kind == "decompression bomb":
        path = tmp_path / "bomb.png"
        Image.new("1", (10_000, 10_000)).save(path)  # 100 M pixels in a few kB
    return path


BAD = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "empty",
    "not an image": "not an image",
    "truncated jpeg": "truncated",
    "decompression bomb": "decompression bomb",
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_raises_one_line_image_error(tmp_path, kind):
    with pytest.raises(nt.ImageLoadError, match=BAD[kind]) as info:
        nt.load_image(make_bad(kind, tmp_path))
    assert "\n" not in str(info.value)


def test_save_roundtrip_png_is_exact_to_8_bits(tmp_path):
    x = torch.rand(1, 3, 9, 11)
    path = save_image(x, tmp_path / "o.png")
    back = nt.load_image(path)
    assert (back - x).abs().max() <= 0.5 / 255 + 1e-6
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)


def test_save_jpeg(tmp_path):
    path = save_image(torch.full((1, 3, 8, 8), 0.5), tmp_path / "o.jpg")
    assert Image.open(path).format == "JPEG"


@pytest.mark.parametrize("name", ["missing_dir/o.png", "o.gif"])
def test_unwritable_output_raises_and_writes_nothing(tmp_path, name):
    with pytest.raises(nt.OutputPathError):
        save_image(torch.rand(1, 3, 4, 4), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_write_refused_by_the_filesystem_raises_output_path_error():
    with pytest.raises(nt.OutputPathError):  # /proc takes no new files, not even from root
        save_image(torch.rand(1, 3, 4, 4), "/proc/nst_tutorial_test.png")


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = save_image(torch.zeros(1, 3, 4, 4), tmp_path / "o.png")
    before = path.read_bytes()

    def broken_save(self, fp, *a, **k):
        fp.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(nt.OutputPathError, match="No space"):
        save_image(torch.ones(1, 3, 4, 4), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]
