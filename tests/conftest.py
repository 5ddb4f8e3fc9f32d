"""Shared fixtures: the real (bundled) VGG19 weights, small images, all on the CPU."""

from __future__ import annotations

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial.data import image_path


@pytest.fixture(scope="session")
def net() -> torch.nn.Sequential:
    """The original VGG19 up to relu5_1 (what the default losses need)."""
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
