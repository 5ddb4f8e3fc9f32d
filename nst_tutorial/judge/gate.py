"""What the seed's EVENT gate does, measured: which gradient entries it zeroes, and where.

The gate multiplies the gradient of each loss by |sign(target)|, so it closes exactly where
the saved target is 0. After a ReLU many content activations are 0; a Gram entry is 0 only
when two channels never fire together anywhere in the style image, which is rare.
"""

from __future__ import annotations

from torch import Tensor

from ..augment import AugmentedModel


def zero_shares(model: AugmentedModel) -> dict[str, float]:
    """Share of each loss's gradient entries the gate zeroes: `{"style/conv1_1": 0.0, "content/conv4_2": 0.71}`.

    Measured on the saved targets, so it says what the gate does (or would do, with
    `event_gate=False`) for this model.
    """
    shares = {}
    for name, module in model.loss_modules().items():
        kind, layer = name.split("_", 1)
        shares[f"{kind}/{layer}"] = (module.target == 0).float().mean().item()
    return shares


def closed_map(model: AugmentedModel, name: str) -> Tensor:
    """Where the gate closes for one loss (`"content/conv4_2"`, `"style/conv1_1"`): for a content
    loss the share of channels zeroed at each position, (H, W); for a style loss the 0/1 map of
    zeroed Gram entries, (C, C)."""
    kind, layer = name.split("/")
    target = model.loss_modules()[f"{kind}_{layer}"].target
    closed = (target[0] == 0).float()
    return closed.mean(dim=0) if closed.ndim == 3 else closed
