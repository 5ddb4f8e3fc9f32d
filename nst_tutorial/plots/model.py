"""The augmented network drawn like the seed's figure, and what its EVENT gate does."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ..augment import AugmentedModel
from ..config import Config
from ..judge import gate
from ..vgg import layer_names, tap
from .figures import figure_of, new_axes
from .images import show_difference

def show_event_gate(model: AugmentedModel, gated: Tensor, ungated: Tensor, gain: float = 8.0,
                    axes: Sequence[Axes] | None = None) -> Figure:
    """What the EVENT gate did in one setting, in three panels: the share of gradient entries it
    zeroes at each loss layer, where it closes at the content layer, and the two results'
    difference, magnified. `gated` and `ungated` are the images solved with the gate on and off."""
    if axes is None:
        _, axes = new_axes(3, 3.8, 3.4)
    shares = gate.zero_shares(model)
    ax = axes[0]
    ax.barh(list(shares), [100 * v for v in shares.values()], color="#f08c7a")
    ax.invert_yaxis()
    ax.set(xlabel="% of gradient entries zeroed", xlim=(0, 100), title="what EVENT zeroes")
    for y, value in enumerate(shares.values()):
        ax.annotate(f"{100 * value:.1f}%", (100 * value, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize="x-small")
    content = next((name for name in shares if name.startswith("content/")), None)
    if content is not None:
        shown = axes[1].imshow(gate.closed_map(model, content).cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        figure_of(axes[1]).colorbar(shown, ax=axes[1], shrink=0.8, label="share of channels zeroed")
        axes[1].set_title(f"where it closes: {content}")
    axes[1].axis("off")
    show_difference(gated, ungated, gain, ax=axes[2])
    axes[2].set_title("gate on vs off, " + axes[2].get_title())
    return figure_of(axes[0])


_COLOURS = {"vgg": "#dde6f0", "PARAMETER": "#f6c85f", "GRAM": "#9fd5a6", "EVENT": "#f08c7a",
            "EUCLIDEAN_LOSS": "#c9a7e0", "INPUT": "#bfbfbf", "SCALAR": "#8ecae6"}


def draw_augmented_model(config: Config | None = None, ax: Axes | None = None) -> Figure:
    """Diagram of the augmented VGG19, like the seed's figure (plain matplotlib, no Graphviz).

    The main column runs from the PARAMETER layer `input1` down through VGG19 (ReLUs in place,
    as in Caffe). Each style layer branches right into GRAM -> EVENT -> EUCLIDEAN_LOSS with its
    INPUT target; the content layer into EVENT -> EUCLIDEAN_LOSS, with MyCaffe's SCALAR before
    the EVENT when `config.content_scale` is set (as in `Config.mycaffe()`). Loss boxes show
    their weight; the EVENT boxes are drawn only with `config.event_gate`.
    """
    config = config or Config()
    taps = [tap(n, config.relu_in_place) for n in (*config.style_layers, *config.content_layers)]
    deepest = max(layer_names().index(t) for t in taps)
    column = ["input1"] + [n for n in layer_names()[: deepest + 1] if not n.startswith("relu")]
    if ax is None:
        _, (ax,) = new_axes(1, 11.0, 0.42 * len(column) + 1.0)
    y = {name: -i for i, name in enumerate(column)}
    for a, b in zip(column, column[1:]):
        _arrow(ax, (0, y[a] - 0.3), (0, y[b] + 0.3))
    for name in column:
        kind = "PARAMETER" if name == "input1" else "vgg"
        label = "PARAMETER input1\n(the image)" if name == "input1" else name
        _box(ax, 0, y[name], label, kind, width=1.7)
    for name, kind in [(n, "style") for n in config.style_layers] + [(n, "content") for n in config.content_layers]:
        row = y[name.replace("relu", "conv")] if not name.startswith("pool") else y[name]
        chain = _branch(config, name, kind)
        xs = [2.4 + 1.9 * (i + 3 - len(chain)) for i in range(len(chain))]  # right-aligned
        _arrow(ax, (0.85, row), (xs[0] - 0.8, row))
        for i, label in enumerate(chain):
            _box(ax, xs[i], row, label, label.split("\n")[0])
            if i:
                _arrow(ax, (xs[i - 1] + 0.8, row), (xs[i] - 0.8, row))
        _box(ax, xs[-1] + 2.0, row, f"INPUT\n{kind} {name}", "INPUT")
        _arrow(ax, (xs[-1] + 1.2, row), (xs[-1] + 0.8, row))
    ax.set_xlim(-1.0, 12.5)
    ax.set_ylim(-len(column) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title("VGG19 augmented for style transfer (weights frozen; only input1 learns)")
    return figure_of(ax)


def _branch(config: Config, name: str, kind: str) -> list[str]:
    """Box labels of one loss branch, in the order the data flows."""
    gate = ["EVENT"] if config.event_gate else []
    if kind == "style":
        alpha = "" if config.gram_scale is None else f" a={config.gram_scale:g}"
        weight = dict(zip(config.style_layers, config.style_layer_weights))[name] * config.style_weight
        scale = " / 4C^4" if config.style_channel_scale else ""
        return [f"GRAM\ngram{name[4:]}{alpha}", *gate, f"EUCLIDEAN_LOSS\nx{weight:g}{scale}"]
    weight = dict(zip(config.content_layers, config.content_layer_weights))[name] * config.content_weight
    scalar = [] if config.content_scale is None else [f"SCALAR\nx{config.content_scale:g}"]
    return [*scalar, *gate, f"EUCLIDEAN_LOSS\nx{weight:g}"]


def _box(ax: Axes, x: float, y: float, text: str, kind: str, width: float = 1.6) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5,
            bbox=dict(boxstyle="round,pad=0.3", fc=_COLOURS.get(kind, "white"), ec="0.3"))


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="0.35", lw=0.9))
