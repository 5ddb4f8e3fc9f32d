"""What a run holds and does, counted from the network's shapes: the FLOPs of each convolution (split by
the algorithm that runs it) and the bytes autograd keeps for the backward pass, L-BFGS's history
and the fast paths' buffers. `estimate` turns the counts into MB and seconds with `calibrate`'s constants."""

from __future__ import annotations

from collections.abc import Iterator

from ..config import Config
from ..speed.fastconv import Conv3x3
from ..stages import deepest_layer, pick_device, wants_bf16
from ..vgg import channels, layer_names


def flop_split(config: Config, height: int, width: int, regions: int = 1) -> tuple[float, float]:
    """Forward FLOPs as (direct, fast): the convolutions a fast algorithm runs (`conv_path`: NNPACK
    or Winograd's, on the CPU), which need fewer operations than counted, apart. With `regions`
    (one painting per painted region) each style layer takes that many Gram matrices."""
    direct, fast = 0.0, 0.0
    for c_in, c_out, h, w in _conv_maps(config, height, width):
        flops = 2 * c_in * c_out * 9 * h * w
        if conv_path(config, h, w) != "direct":
            fast += flops
        else:
            direct += flops
    for name in config.style_layers:
        block = int(name[4]) - 1
        direct += regions * 2 * channels(name) ** 2 * (height >> block) * (width >> block)
    return direct, fast


def _conv_maps(config: Config, height: int, width: int) -> Iterator[tuple[int, int, int, int]]:
    """(c_in, c_out, h, w) of each convolution up to the deepest loss layer."""
    h, w = height, width
    names = layer_names()
    for name in names[: names.index(deepest_layer(config)) + 1]:
        if name.startswith("conv"):
            yield 3 if name == "conv1_1" else channels(names[names.index(name) - 2]), channels(name), h, w
        elif name.startswith("pool"):
            h, w = _pooled(config, h, w)


def _pooled(config: Config, h: int, w: int) -> tuple[int, int]:
    """A 2x2 max-pool's output size: rounded up with `config.ceil_mode` (Caffe), else down."""
    return (-(-h // 2), -(-w // 2)) if config.ceil_mode else (h // 2, w // 2)


def nnpack_bytes(config: Config, height: int, width: int) -> int:
    """NNPACK's workspace, which PyTorch keeps for the process's life: mostly the kernels of the
    widest layer NNPACK runs, transformed to 16x16 FFT tiles (c_in x c_out x 256 floats; 268 MB
    for VGG's 512-channel layers). It does not grow with the picture, so a factor on the other
    counts would overstate large pictures."""
    return max((c_in * c_out * 256 * 4 for c_in, c_out, h, w in _conv_maps(config, height, width)
                if conv_path(config, h, w) == "nnpack"), default=0)


def bf16_bytes(config: Config, height: int, width: int) -> int:
    """Bytes of the bfloat16 weights the layers on the bfloat16 path hold: 2 per weight."""
    return sum(9 * c_in * c_out * 2 for c_in, c_out, h, w in _conv_maps(config, height, width)
               if conv_path(config, h, w) == "bf16")


def winograd_bytes(config: Config, height: int, width: int) -> int:
    """Bytes of the transformed kernels the layers on Winograd's path hold: 36 per 9 weights."""
    return sum(36 * c_in * c_out * 4 for c_in, c_out, h, w in _conv_maps(config, height, width)
               if conv_path(config, h, w) == "winograd")


def conv_path(config: Config, h: int, w: int) -> str:
    """The algorithm `Conv3x3.path` picks for a map of h x w on the device `config` picks."""
    cpu = config.device == "cpu" or (config.device == "auto" and pick_device("auto").type == "cpu")
    if not (config.fast_conv and cpu):
        return "direct"
    return "bf16" if wants_bf16(config) else Conv3x3.fast_path(h * w, config.low_memory)


def saved_bytes(config: Config, height: int, width: int) -> int:
    """Bytes autograd keeps for one backward pass of the model `config` builds at (height, width).

    What each layer keeps: a ReLU its output; a max-pool its indices (int64, at its output's
    size; its input is the ReLU output already kept); a convolution its input when PyTorch's
    direct path runs it, and nothing when a fast one does (its backward needs only the weights),
    so only a convolution right after a pool adds bytes; in bfloat16 every convolution keeps its
    input's bfloat16 copy; a style loss three C x C matrices; a
    content loss two copies of its feature map. `tests/test_estimate.py` checks the count
    against the tensors autograd really saves.
    """
    names = layer_names()
    h, w = height, width
    keeps_input = True  # the image, or a pool's output: kept by no one else
    per_block = [0]
    sizes = {}
    for name in names[: names.index(deepest_layer(config)) + 1]:
        c = channels(name)
        if name.startswith("conv"):
            c_in = 3 if name == "conv1_1" else channels(names[names.index(name) - 1])
            if conv_path(config, h, w) == "bf16":
                per_block[-1] += c_in * h * w * 2  # its input, cast to bfloat16 for this call
            elif conv_path(config, h, w) == "direct" and keeps_input:
                per_block[-1] += c_in * h * w * 4
            keeps_input = False
        elif name.startswith("relu"):
            per_block[-1] += c * h * w * 4
        else:
            h, w = _pooled(config, h, w)
            per_block[-1] += c * h * w * 8
            per_block.append(0)
            keeps_input = True
        sizes[name] = (h, w)
    for n in config.style_layers:
        per_block[_block(n)] += 3 * channels(n) ** 2 * 4
    for n in config.content_layers:
        per_block[_block(n)] += 2 * channels(n) * sizes[n][0] * sizes[n][1] * 4
    return sum(per_block)


def _block(name: str) -> int:
    """0 for conv1_x / relu1_x, 1 for conv2_x, ...: how many pools come before the layer."""
    return int(name[4]) - 1


def model_bytes(config: Config, height: int, width: int, regions: int = 1) -> float:
    """The model's memory count above the baseline: saved tensors, L-BFGS history (bfloat16 with
    `config.low_memory`), image buffers, the kernels Winograd's path transformed, the bfloat16
    weights, NNPACK's workspace; with `regions`, each style layer's masked copies of its features
    (one per region) too."""
    masked = 0 if regions <= 1 else sum(regions * channels(n) * (height >> _block(n)) * (width >> _block(n)) * 4
                                        for n in config.style_layers)
    numbers = 3 * height * width
    pair_bytes = 2 * numbers * (2 if config.low_memory else 4)
    history = config.lbfgs_history * pair_bytes if config.optimizer == "lbfgs" else 2 * numbers * 4
    return (saved_bytes(config, height, width) + history + 8 * numbers * 4 + winograd_bytes(config, height, width)
            + bf16_bytes(config, height, width) + nnpack_bytes(config, height, width) + masked)


