"""Step 3 of the seed: augment VGG19 with target inputs, EVENT gates and Euclidean losses."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from .config import Config
from .control.colour import recolour
from .losses import ContentLoss, StyleLoss, TemporalLoss, total_variation
from .vgg import Normalizer, layer_names, tap


class AugmentedModel(nn.Module):
    """VGG19 with a loss module after each style/content layer and the image as its only parameter.

    `image` plays the seed's PARAMETER layer `input1`: a (1, 3, H, W) tensor in the network's
    own pixel space (BGR 0-255 minus the mean for the Caffe weights). Calling the model runs
    the forward pass and returns the total loss; `losses()` names each term.
    """

    def __init__(self, net: nn.Sequential, normalizer: Normalizer, image: Tensor, config: Config) -> None:
        super().__init__()
        self.normalizer = normalizer
        self.image = nn.Parameter(normalizer.to_model(image).detach().clone())
        self.net = net
        self.style_weight = config.style_weight
        self.content_weight = config.content_weight
        self.tv_weight = config.tv_weight
        self.colour_from: Tensor | None = None  # the photo whose chroma `rgb()` restores (luminance-only transfer)
        self.temporal = nn.ModuleDict()  # video: a TemporalLoss per earlier frame, keyed by frames back ("1", ...)

    def forward(self) -> Tensor:
        self.net(self.image)
        return self.total(self.losses())

    def losses(self) -> "OrderedDict[str, Tensor]":
        """Weighted loss of each term of the last forward pass: "style/conv1_1", ..., "content/conv4_2",
        "tv", and for a video frame "temporal/1" (one frame back), ..."""
        out: "OrderedDict[str, Tensor]" = OrderedDict()
        for name, module in self.net.named_children():
            if isinstance(module, StyleLoss):
                out[f"style/{name.removeprefix('style_')}"] = self.style_weight * module.loss
            elif isinstance(module, ContentLoss):
                out[f"content/{name.removeprefix('content_')}"] = self.content_weight * module.loss
        if self.tv_weight or self.temporal:
            rgb = self.normalizer.from_model(self.image)
            if self.tv_weight:
                out["tv"] = self.tv_weight * total_variation(rgb)
            for back, module in self.temporal.items():
                out[f"temporal/{back}"] = module(rgb)
        return out

    @staticmethod
    def total(losses: "OrderedDict[str, Tensor]") -> Tensor:
        return torch.stack(list(losses.values())).sum()

    def rgb(self) -> Tensor:
        """The image being learned as RGB in [0, 1], detached: (1, 3, H, W).

        With `colour_from` set (luminance-only transfer) it is the solved luminance with that
        photo's colours.
        """
        rgb = self.normalizer.from_model(self.image.detach()).clamp(0, 1)
        return rgb if self.colour_from is None else recolour(rgb, self.colour_from)

    def loss_modules(self) -> "OrderedDict[str, StyleLoss | ContentLoss]":
        """The loss modules by their name in `net`: "style_conv1_1", ..., "content_conv4_2"."""
        return OrderedDict((n, m) for n, m in self.net.named_children() if isinstance(m, (StyleLoss, ContentLoss)))


def channel_scale(channels: int) -> float:
    """MyCaffe's `get_style_scale` for a (1, C, C) Gram blob: num^-2 * count(1)^-2 / 4 = 1 / (4 C^4).

    Gatys et al. weight each layer by 1 / (4 N^2 M^2), N channels and M = H W positions;
    MyCaffe squares the Gram blob's element count C^2 instead, so H W does not enter.
    """
    return 1.0 / (4.0 * channels**4)


def augment(
    net: nn.Sequential,
    normalizer: Normalizer,
    style_targets: dict[str, Tensor],
    content_targets: dict[str, Tensor],
    init: Tensor,
    config: Config,
    masks: Tensor | None = None,
    temporal: dict[int, tuple[Tensor, Tensor]] | None = None,
) -> AugmentedModel:
    """Insert a StyleLoss/ContentLoss after each target layer and truncate after the deepest one.

    `style_targets` and `content_targets` come from `capture_style_targets` and
    `capture_content_targets` (seed steps 1 and 2); `init` is the starting RGB image
    (1, 3, H, W) in [0, 1]. The VGG weights stay frozen: only the image learns. With `masks`
    (S, 1, H, W), one region per style, each style target is (S, C, C) and each region is
    matched to its own painting (`style_losses.gram`'s masks). `temporal` maps frames back (1, ...)
    to an earlier stylised frame warped to this one and its reliable-flow mask, (1, 3, H, W) and
    (1, 1, H, W): each becomes a `TemporalLoss` of weight `config.temporal_weight` (video).
    """
    style_w = dict(zip(config.style_layers, config.style_layer_weights))
    content_w = dict(zip(config.content_layers, config.content_layer_weights))
    after: dict[str, list[tuple[str, nn.Module]]] = {}
    for name, target in style_targets.items():
        weight = style_w[name] * (channel_scale(target.shape[-1]) if config.style_channel_scale else 1.0)
        module: nn.Module = StyleLoss(target, weight, kind=config.style_loss, gate=config.event_gate,
                                      form=config.euclidean, gram_scale=config.gram_scale, masks=masks,
                                      seed=config.seed)
        after.setdefault(tap(name, config.relu_in_place), []).append((f"style_{name}", module))
    for name, target in content_targets.items():
        module = ContentLoss(target, content_w[name], gate=config.event_gate, form=config.euclidean,
                             scale=config.content_scale)
        after.setdefault(tap(name, config.relu_in_place), []).append((f"content_{name}", module))
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    base = dict(net.named_children())
    for name in layer_names():
        if not after:
            break  # layers past the deepest loss cost time and change nothing
        layers[name] = base[name]
        layers.update(after.pop(name, []))
    model = AugmentedModel(nn.Sequential(layers), normalizer, init, config)
    for back, (target, mask) in (temporal or {}).items():
        model.temporal[str(back)] = TemporalLoss(target, mask, config.temporal_weight)
    return model
