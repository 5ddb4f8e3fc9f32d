"""Measuring the controls (`control.colour`, `control.regions`, scale): did each do what it promises?

- colour: the mean per-pixel CIEDE2000 difference to the photo, and the Frechet distance
  between the two images' colour distributions in Lab (Gaussians fitted to their pixels:
  |m1 - m2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), the formula FID uses); beside them the style loss
  on luminance, to show the style was not lost on the way: against the painting's luminance
  as it is, and against it shifted and scaled to the photo's mean and spread (what
  luminance-only transfer aims at), since keeping the photo's brightness is the point;
- regions: each region's Gram loss against every painting, so its own should be the smallest;
- scale: the low layers' Gram loss against one painting and the high layers' against the other.

All from the images as given (8-bit when they were read from files), on VGG19 at the image's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ..control.colour import grey, luminance, match_luminance
from ..images import ImageSource, load_image, resize, resize_to
from ..style_losses import gaussian_w2, gram, mean_cov, sqrtm
from ..targets import features_at
from ..vgg import Normalizer, build_vgg19, tap
from .metrics import delta_e

LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


class Measure:
    """VGG19 and the helpers that measure the controls on it."""

    def __init__(self) -> None:
        self.net = build_vgg19("caffe", "max", last="relu5_1")
        self.norm = Normalizer("caffe")

    def grams(self, image: Tensor, layers: Sequence[str] = LAYERS, masks: Tensor | None = None) -> dict[str, Tensor]:
        """Gram matrices of `image` at `layers`, (1, C, C), or per mask region (S, C, C)."""
        feats = features_at(self.net, self.norm.to_model(image), [tap(n, True) for n in layers])
        return {n: gram(feats[tap(n, True)], masks=masks) for n in layers}

    def style_loss(self, image: Tensor, style: Tensor, layers: Sequence[str] = LAYERS) -> float:
        """Sum over `layers` of the mean squared Gram difference (the default style loss, weight 1)."""
        a, b = self.grams(image, layers), self.grams(resize_to(style, image), layers)
        return float(sum((a[n] - b[n]).pow(2).mean() for n in layers))

    def colour(self, image: ImageSource, content: ImageSource, style: ImageSource) -> dict[str, float]:
        """Colour distances of `image` to the photo, and its luminance style loss against the painting."""
        x = load_image(image)
        photo, painting = resize_to(load_image(content), x), resize_to(load_image(style), x)
        y = grey(luminance(x))
        return {"delta_e": delta_e(x, photo), "frechet_lab": frechet_lab(x, photo),
                "luminance_style_loss": self.style_loss(y, grey(luminance(painting))),
                "luminance_style_loss_matched": self.style_loss(y, grey(match_luminance(painting, photo)))}

    def scale(self, image: ImageSource, a: ImageSource, b: ImageSource) -> dict[str, float]:
        """Style loss of the low layers (conv1_1, conv2_1) and of the high ones (conv3_1..conv5_1)
        against paintings `a` and `b`."""
        x, paintings = load_image(image), {"A": load_image(a), "B": load_image(b)}
        return {f"{part} layers vs {name}": self.style_loss(x, p, layers)
                for part, layers in (("low", LAYERS[:2]), ("high", LAYERS[2:])) for name, p in paintings.items()}

    def regions(self, image: ImageSource, masks: Tensor, styles: Sequence[ImageSource]) -> np.ndarray:
        """[r, s]: Gram loss of region r of `image` against painting s; the diagonal should be smallest."""
        x = load_image(image)
        masks = resize(masks.float(), tuple(x.shape[-2:]), mode="area")
        inside = self.grams(x, masks=masks)
        out = np.zeros((len(masks), len(styles)))
        for s, style in enumerate(styles):
            whole = self.grams(resize_to(load_image(style), x))
            out[:, s] = [sum((inside[n][r] - whole[n][0]).pow(2).mean().item() for n in LAYERS)
                         for r in range(len(masks))]
        return out


def scale_verdict(split: Mapping[str, float], blend: Mapping[str, float]) -> str:
    """In words, from `Measure.scale`'s numbers, whether the split (fine texture from A, coarse
    from B) brought the low layers closer to A and the high layers closer to B than the blend:
    a notebook prints this rather than asserting it in prose that could disagree with its run."""
    lines = []
    for part, painting in (("low", "A"), ("high", "B")):
        key = f"{part} layers vs {painting}"
        closer = split[key] < blend[key]
        lines.append(f"{part} layers: {'closer to' if closer else 'farther from'} {painting} than the blend "
                     f"({split[key]:,.0f} against {blend[key]:,.0f})")
    return "; ".join(lines)


def markdown_table(rows: Mapping[str, Mapping[str, float]], first: str = "") -> str:
    """Rows of named numbers as a Markdown table, one row per key (for `IPython.display.Markdown`)."""
    columns = list(next(iter(rows.values())))
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{row[c]:.4g}" for c in columns) + " |" for label, row in rows.items()]
    return "\n".join(lines)


def frechet_lab(image: Tensor, reference: Tensor) -> float:
    """Frechet distance between the Lab pixel distributions of two RGB images (1, 3, H, W)."""
    from skimage.color import rgb2lab

    def stats(t: Tensor) -> tuple[Tensor, Tensor]:
        return mean_cov(torch.from_numpy(rgb2lab(t[0].permute(1, 2, 0).double().cpu().numpy())).reshape(-1, 3))

    (m1, c1), (m2, c2) = stats(image), stats(reference)
    return float(gaussian_w2(m1, c1, m2, sqrtm(c2)))
