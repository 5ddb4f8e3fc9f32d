"""Steps 1 and 2 of the seed: forward the style and content images and save what the losses match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .style_losses import SAMPLE_LOSSES, style_statistic
from .vgg import Normalizer, tap


@torch.no_grad()
def features_at(net: nn.Sequential, image: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
    """Outputs of `net` at the named layers for a model-space image (1, 3, H, W); no autograd."""
    wanted = set(layers)
    out: dict[str, Tensor] = {}
    x = image
    for name, module in net.named_children():
        x = module(x)
        if name in wanted:
            out[name] = x
        if len(out) == len(wanted):
            break
    return out


def capture_style_targets(
    net: nn.Sequential,
    normalizer: Normalizer,
    styles: Sequence[Tensor],
    layers: Sequence[str],
    relu_in_place: bool = True,
    blend: Sequence[float] | None = None,
    kind: str = "gram",
    gram_scale: float | None = None,
    sources: Sequence[int] | None = None,
) -> dict[str, Tensor]:
    """Seed step 1: `{"conv1_1": gram (1, C, C), ...}` for RGB style images (1, 3, H, W) in [0, 1].

    Several styles are blended by averaging their Gram matrices with weights `blend`
    (equal by default), which mixes the styles' statistics. `kind` picks another style loss
    (see `style_losses.style_statistic`); feature samples (gaussian, sliced_wasserstein,
    histogram, w2) are pooled, not averaged.
    `gram_scale` is MyCaffe's GRAM alpha (see `style_losses.caffe_gram`). `sources` gives,
    per layer, the one style image that layer's target comes from (scale control: coarse
    structure from one painting, fine texture from another); None blends them all.
    """
    if sources is not None:
        if max(sources, default=0) >= len(styles):
            raise ConfigError(f"style_layer_sources names style {max(sources)}, but there are {len(styles)} "
                              "style images (counting from 0)")
        per_style = {i: capture_style_targets(net, normalizer, [styles[i]], layers, relu_in_place, None, kind,
                                              gram_scale) for i in set(sources)}
        return {name: per_style[i][name] for name, i in zip(layers, sources)}

    blend = [1.0 / len(styles)] * len(styles) if blend is None else list(blend)
    taps = {name: tap(name, relu_in_place) for name in layers}
    targets: dict[str, Tensor] = {}
    for style, weight in zip(styles, blend):
        feats = features_at(net, normalizer.to_model(style), taps.values())
        for name, t in taps.items():
            stat = style_statistic(feats[t], kind, gram_scale)
            if kind in SAMPLE_LOSSES:
                targets[name] = torch.cat([targets[name], stat], dim=1) if name in targets else stat
            else:
                targets[name] = targets.get(name, 0) + weight * stat
    return targets


def capture_content_targets(
    net: nn.Sequential,
    normalizer: Normalizer,
    content: Tensor,
    layers: Sequence[str] = ("conv4_2",),
    relu_in_place: bool = True,
) -> dict[str, Tensor]:
    """Seed step 2: `{"conv4_2": features (1, C, H/8, W/8)}` for an RGB content image in [0, 1]."""
    taps = {name: tap(name, relu_in_place) for name in layers}
    feats = features_at(net, normalizer.to_model(content), taps.values())
    return {name: feats[t] for name, t in taps.items()}
