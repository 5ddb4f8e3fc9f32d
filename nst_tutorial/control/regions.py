"""Give regions their own style: guided Gram matrices (Gatys, Ecker, Bethge, Hertzmann & Shechtman
2017, "Controlling Perceptual Factors in Neural Style Transfer", arXiv:1611.07865).

Each style is matched only inside its region of the photo; the content loss still covers the
whole picture. At every style layer the feature map is weighted by the region's mask, brought
down to that layer's size, and the Gram matrix is normalised by the region's area, so a region
is compared with its painting as if it were a whole image (`style_losses.gram` with masks):

    G_r = (F * m_r)(F * m_r)^T / (C * sum(m_r)),   (F * m_r): features times the mask.

This module turns what a user gives (a label image, one mask per style, painted strokes) into
those masks.

Of the paper's two ways to bring a mask to a layer's size we use the simple one: average it
over each layer's cells (what the pooling does to the features). The other erodes the mask by
each unit's receptive field so that only units wholly inside count; deep layers' receptive
fields are larger than small regions, which it would empty, and a painted region should never
vanish at conv5_1.

Masks come as one greyscale image per style (white: this style) or as one label image with one
colour per region, colours going to styles in the order they first appear, row by row from the
top left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import ImageLoadError
from ..images import ImageSource, load_image, resize

MaskSources = ImageSource | Sequence[ImageSource]


@dataclass
class Regions:
    """One mask per style, (S, 1, H, W) in [0, 1] at the content's size, and what was noticed loading them."""

    masks: Tensor
    notes: list[str] = field(default_factory=list)  # resizing, and which label colour went to which style


def load_masks(sources: MaskSources | Tensor, styles: int, size: tuple[int, int],
               names: Sequence[str] | None = None) -> Regions:
    """Masks for `styles` styles at `size` (H, W): one label image, or one greyscale image per style.

    A mask of another size is resized (nearest) with a note. Raises `ImageLoadError` for a
    wrong number of masks, a label image with more colours than styles, or a region without
    a pixel at this size.
    """
    names = list(names or [f"style {i + 1}" for i in range(styles)])
    if isinstance(sources, Tensor) and sources.ndim == 4 and sources.shape[1] == 1:
        if len(sources) != styles:
            raise ImageLoadError(f"{len(sources)} masks for {styles} styles: give one mask per style")
        return Regions(_checked(_fit(sources.float(), size, []), names))
    items: list[ImageSource] = list(sources) if isinstance(sources, (list, tuple)) else [sources]  # type: ignore[list-item]
    notes: list[str] = []
    if len(items) == 1 and styles > 1:
        labels = _fit(load_image(items[0]), size, notes, "the label image")
        masks, colours = masks_from_labels(labels, styles)
        notes += [f"label colour {c} -> {name}" for c, name in zip(colours, names)]
    elif len(items) == styles:
        masks = torch.cat([_fit(_grey(load_image(m)), size, notes, f"the mask of {n}") for m, n in zip(items, names)])
    else:
        raise ImageLoadError(f"{len(items)} masks for {styles} styles: give one label image, or one mask per style")
    return Regions(_checked(masks, names), notes)


def bands(height: int, width: int, count: int = 2) -> Tensor:
    """`count` horizontal bands of equal height, top to bottom, as masks (count, 1, height, width)."""
    rows = torch.arange(height)[:, None].expand(height, width) * count // height
    return torch.stack([(rows == i).float() for i in range(count)])[:, None]


def masks_from_labels(labels: Tensor, styles: int) -> tuple[Tensor, list[str]]:
    """A label image (1, 3, H, W) as one 0/1 mask per colour, (S, 1, H, W), in order of first
    appearance reading rows from the top left; and the colours as hex strings."""
    codes = (labels[0] * 255).round().long()
    flat = (codes[0] * 65536 + codes[1] * 256 + codes[2]).flatten()
    values, inverse = torch.unique(flat, return_inverse=True)
    first = torch.full((len(values),), flat.numel(), dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(flat.numel()), reduce="amin")
    order = values[first.argsort()]
    if len(order) > styles:
        raise ImageLoadError(f"the label image has {len(order)} colours but there are {styles} styles (save labels "
                             "as PNG, with no smoothing, one flat colour per style)")
    masks = torch.stack([(flat == v).reshape(labels.shape[-2:]) for v in order])[:, None].float()
    return masks, [f"#{int(v):06x}" for v in order]


def _grey(image: Tensor) -> Tensor:
    return image.mean(dim=1, keepdim=True)


def _fit(mask: Tensor, size: tuple[int, int], notes: list[str], what: str = "a mask") -> Tensor:
    if tuple(mask.shape[-2:]) != tuple(size):
        notes.append(f"note: {what} ({mask.shape[-1]}x{mask.shape[-2]}) was resized to the content's "
                     f"{size[1]}x{size[0]} (nearest)")
        mask = resize(mask, size, mode="nearest")
    return mask


def _checked(masks: Tensor, names: Sequence[str]) -> Tensor:
    for m, name in zip(masks, names):
        if not (m > 0).any():
            raise ImageLoadError(f"the region of {name} has no pixels at {m.shape[-1]}x{m.shape[-2]}")
    return masks
