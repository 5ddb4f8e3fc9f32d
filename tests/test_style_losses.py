"""Li et al. (2017): Gram matching is an MMD; the other kernels' losses against explicit formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.losses import StyleLoss
from nst_tutorial.style_losses import (feature_vectors, gaussian_kernel, linear_kernel, mmd2, poly2_kernel,
                                       style_statistic)
from nst_tutorial.data import image_path


def explicit_mmd2(x, y, k):
    kxx = sum(k(a, b) for a in x for b in x) / len(x) ** 2
    kyy = sum(k(a, b) for a in y for b in y) / len(y) ** 2
    kxy = sum(k(a, b) for a in x for b in y) / (len(x) * len(y))
    return kxx + kyy - 2 * kxy


def test_mmd2_matches_the_explicit_double_sum():
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    k = lambda a, b: (a @ b) ** 2  # noqa: E731
    assert torch.isclose(mmd2(x, y, poly2_kernel), explicit_mmd2(x, y, k))


def test_gram_loss_is_poly2_mmd_up_to_c_to_the_fourth():
    fx, fs = torch.randn(1, 6, 5, 4, dtype=torch.float64), torch.randn(1, 6, 3, 7, dtype=torch.float64)
    c = fx.shape[1]
    gram_mse = F.mse_loss(nt.gram(fx), nt.gram(fs))
    assert torch.isclose(mmd2(feature_vectors(fx), feature_vectors(fs), poly2_kernel), c**4 * gram_mse)


def test_linear_kernel_mmd_is_distance_of_means():
    fx, fs = torch.randn(1, 6, 5, 4, dtype=torch.float64), torch.randn(1, 6, 3, 7, dtype=torch.float64)
    means = F.mse_loss(style_statistic(fx, "linear"), style_statistic(fs, "linear"))
    assert torch.isclose(mmd2(feature_vectors(fx), feature_vectors(fs), linear_kernel), 6 * means)


def test_bn_statistic_is_channel_mean_and_std():
    f = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    stat = style_statistic(f, "bn")
    assert torch.allclose(stat[0, :3], f[0].mean(dim=(1, 2)))
    assert torch.allclose(stat[0, 3:], f[0].reshape(3, -1).std(dim=1, unbiased=False))


def test_gaussian_style_loss_is_gaussian_mmd_with_stored_bandwidth():
    fs, fx = torch.randn(1, 4, 6, 6, dtype=torch.float64), torch.randn(1, 4, 6, 6, dtype=torch.float64)
    module = StyleLoss(style_statistic(fs, "gaussian"), weight=2.0, kind="gaussian")
    module(fx)
    vs, vx = feature_vectors(fs), feature_vectors(fx)
    sigma2 = torch.cdist(vs, vs).pow(2).mean()
    k = lambda a, b: torch.exp(-((a - b) ** 2).sum() / (2 * sigma2))  # noqa: E731
    assert torch.isclose(module.loss, 2.0 * explicit_mmd2(vx, vs, k))
    assert torch.isclose(mmd2(vx, vs, gaussian_kernel(sigma2)), explicit_mmd2(vx, vs, k))


@pytest.mark.parametrize("kind", ["linear", "bn", "gaussian"])
def test_every_style_loss_runs_a_solve(kind):
    cfg = nt.Config(size=32, iterations=8, style_loss=kind, style_weight=nt.style_losses.STYLE_WEIGHTS[kind],
                    init="noise")
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    style = [sum(v[i] for k, v in result.history.items() if k.startswith("style/")) for i in (0, -1)]
    assert style[1] < style[0]


def test_unknown_style_loss_is_a_config_error():
    with pytest.raises(nt.ConfigError, match="style_loss"):
        nt.Config(style_loss="wasserstein")
