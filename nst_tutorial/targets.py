"""Steps 1 and 2 of the seed: forward the style and content images and save what the losses match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from .config import Config
from .errors import ConfigError
from .style_losses import gram, style_kind
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


def capture_style_targets(net: nn.Sequential, normalizer: Normalizer, styles: Sequence[Tensor], config: Config,
                          per_style: bool = False) -> dict[str, Tensor]:
    """Seed step 1: `{"conv1_1": gram (1, C, C), ...}` for RGB style images (1, 3, H, W) in [0, 1].

    The statistic is `config.style_loss`'s (the Gram matrix by default, MyCaffe's with
    `config.gram_scale`). Several styles are blended by averaging their statistics with equal
    weights, which mixes the styles; feature samples (the kinds with their own distance) are
    pooled instead. `config.style_layer_sources` gives, per layer, the one style that layer's
    target comes from (scale control). `per_style` stacks each style's own target instead,
    (S, C, C), for regions: one painting per region.
    """
    sources = config.style_layer_sources
    if per_style or sources is not None:
        if sources is not None and max(sources, default=0) >= len(styles):
            raise ConfigError(f"style_layer_sources names style {max(sources)}, but there are {len(styles)} "
                              "style images (counting from 0)")
        own = [_targets(net, normalizer, [s], config) for s in styles]
        if per_style:
            return {name: torch.cat([t[name] for t in own]) for name in config.style_layers}
        assert sources is not None
        return {name: own[i][name] for name, i in zip(config.style_layers, sources)}
    return _targets(net, normalizer, styles, config)


def _targets(net: nn.Sequential, normalizer: Normalizer, styles: Sequence[Tensor], config: Config) -> dict[str, Tensor]:
    """Every style's statistic at each style layer, averaged (or pooled, for feature samples)."""
    kind = style_kind(config.style_loss)
    taps = {name: tap(name, config.relu_in_place) for name in config.style_layers}
    targets: dict[str, Tensor] = {}
    for style in styles:
        feats = features_at(net, normalizer.to_model(style), taps.values())
        for name, t in taps.items():
            stat = kind.statistic(feats[t]) if config.gram_scale is None else gram(feats[t], config.gram_scale)
            if kind.pooled:
                targets[name] = torch.cat([targets[name], stat], dim=1) if name in targets else stat
            else:
                targets[name] = targets.get(name, 0) + stat / len(styles)
    return targets


def capture_content_targets(net: nn.Sequential, normalizer: Normalizer, content: Tensor,
                            config: Config) -> dict[str, Tensor]:
    """Seed step 2: `{"conv4_2": features (1, C, H/8, W/8)}` for an RGB content image in [0, 1]."""
    taps = {name: tap(name, config.relu_in_place) for name in config.content_layers}
    feats = features_at(net, normalizer.to_model(content), taps.values())
    return {name: feats[t] for name, t in taps.items()}
