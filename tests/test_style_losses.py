"""Li et al. (2017): Gram matching is an MMD; the other kernels' losses against explicit formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.losses import StyleLoss
from nst_tutorial.style_losses import (feature_vectors, gaussian_kernel, linear_kernel, mmd2, poly2_kernel,
                                       KINDS)
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
    means = F.mse_loss(KINDS["linear"].statistic(fx), KINDS["linear"].statistic(fs))
    assert torch.isclose(mmd2(feature_vectors(fx), feature_vectors(fs), linear_kernel), 6 * means)


def test_bn_statistic_is_channel_mean_and_std():
    f = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    stat = KINDS["bn"].statistic(f)
    assert torch.allclose(stat[0, :3], f[0].mean(dim=(1, 2)))
    assert torch.allclose(stat[0, 3:], f[0].reshape(3, -1).std(dim=1, unbiased=False))


def test_gaussian_style_loss_is_gaussian_mmd_with_stored_bandwidth():
    fs, fx = torch.randn(1, 4, 6, 6, dtype=torch.float64), torch.randn(1, 4, 6, 6, dtype=torch.float64)
    module = StyleLoss(KINDS["gaussian"].statistic(fs), weight=2.0, kind="gaussian")
    module(fx)
    vs, vx = feature_vectors(fs), feature_vectors(fx)
    sigma2 = torch.cdist(vs, vs).pow(2).mean()
    k = lambda a, b: torch.exp(-((a - b) ** 2).sum() / (2 * sigma2))  # noqa: E731
    assert torch.isclose(module.loss, 2.0 * explicit_mmd2(vx, vs, k))
    assert torch.isclose(mmd2(vx, vs, gaussian_kernel(sigma2)), explicit_mmd2(vx, vs, k))


@pytest.mark.parametrize("kind", ["linear", "bn", "gaussian"])
def test_every_style_loss_runs_a_solve(kind):
    cfg = nt.Config(size=32, iterations=8, style_loss=kind, style_weight=KINDS[kind].weight,
                    init="noise")
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    style = [sum(v[i] for k, v in result.history.items() if k.startswith("style/")) for i in (0, -1)]
    assert style[1] < style[0]


def test_unknown_style_loss_is_a_config_error():
    with pytest.raises(nt.ConfigError, match="style_loss"):
        nt.Config(style_loss="wasserstein")


# The style losses after Gatys, each against a case with a known answer.

def test_sliced_wasserstein_of_a_shifted_copy_is_the_mean_squared_projected_shift():
    from nst_tutorial.style_losses import random_directions, sliced_wasserstein

    x = torch.randn(500, 4, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    y = x[torch.randperm(500)] + shift  # the same samples, shuffled and shifted
    d = random_directions(4, 16, torch.Generator().manual_seed(1)).double()
    assert torch.isclose(sliced_wasserstein(x, y, d), ((d @ shift) ** 2).mean())
    assert torch.allclose(d.norm(dim=1), torch.ones(16, dtype=torch.float64))


def test_sliced_wasserstein_compares_sets_of_different_sizes_by_quantile():
    from nst_tutorial.style_losses import sliced_wasserstein

    x = torch.linspace(0, 1, 101, dtype=torch.float64)[:, None]
    y = torch.linspace(0, 1, 1001, dtype=torch.float64)[:, None] + 0.25  # the same uniform law, shifted
    direction = torch.ones(1, 1, dtype=torch.float64)
    assert torch.isclose(sliced_wasserstein(x, y, direction), torch.tensor(0.0625, dtype=torch.float64), rtol=1e-3)


def test_histogram_loss_of_a_shifted_copy_is_the_squared_shift_and_pulls_towards_it():
    from nst_tutorial.style_losses import histogram_loss

    x = torch.randn(300, 3, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    style = (x.detach()[torch.randperm(300)] + shift).sort(dim=0).values
    loss = histogram_loss(x, style)
    assert torch.isclose(loss, (shift**2).mean())
    loss.backward()
    assert torch.allclose(x.grad, -2 * shift.expand(300, 3) / x.numel())


def test_w2_between_gaussians_matches_the_closed_form():
    from nst_tutorial.style_losses import gaussian_w2, sqrtm

    m1, m2 = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    a, b = torch.tensor([4.0, 1.0, 0.25]), torch.tensor([1.0, 9.0, 0.25])  # commuting (diagonal) covariances
    expected = ((m1 - m2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()
    w2 = gaussian_w2(m1.double(), torch.diag(a).double(), m2.double(), sqrtm(torch.diag(b).double()))
    assert torch.isclose(w2.float(), expected)
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))  # rotating both leaves W2 unchanged
    rotated = gaussian_w2(q @ m1.double(), q @ torch.diag(a).double() @ q.T, q @ m2.double(),
                          sqrtm(q @ torch.diag(b).double() @ q.T))
    assert torch.isclose(rotated, w2)


def test_w2_gradient_is_finite_with_silent_channels():
    from nst_tutorial.style_losses import mean_cov, gaussian_w2, sqrtm

    x = torch.relu(torch.randn(200, 6))
    x[:, :3] = 0  # three channels that never fire: repeated zero eigenvalues
    x.requires_grad_(True)
    mean, cov = mean_cov(x)
    style_mean, style_cov = mean_cov(torch.relu(torch.randn(300, 6)) + 0.1)
    gaussian_w2(mean, cov, style_mean, sqrtm(style_cov)).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["sliced_wasserstein", "histogram", "w2"])
@pytest.mark.parametrize("optimizer, scales", [("lbfgs", (0.5, 1.0)), ("adam", (1.0,))])
def test_new_style_losses_lower_the_style_loss_with_either_optimizer_and_through_the_stages(kind, optimizer,
                                                                                             scales):
    cfg = nt.Config(size=48, iterations=10, coarse_iterations=5, scales=scales, style_loss=kind,
                    style_weight=KINDS[kind].weight, optimizer=optimizer)
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    full = result.stages[-1].start
    # the full-size stage's own terms (it leaves out conv5_1 after a coarse stage: NaN there)
    style = [sum(v[i] for k, v in result.history.items() if k.startswith("style/") and math.isfinite(v[full]))
             for i in (full, -1)]
    assert all(map(torch.isfinite, map(torch.tensor, result.total))) and style[1] < style[0]
    assert len(result.stages) == len(scales)


def test_sliced_wasserstein_directions_follow_config_seed(tiny_net, content, style):
    norm = nt.Normalizer()

    def first_loss(seed: int) -> float:
        cfg = nt.Config(style_loss="sliced_wasserstein", seed=seed)
        targets = nt.capture_style_targets(tiny_net, norm, [style], cfg)
        model = nt.augment(tiny_net, norm, targets, {}, init=content, config=cfg)
        return model().item()

    assert first_loss(1) == first_loss(1) != first_loss(2)


def test_a_style_loss_registered_in_one_place_runs_through_stylize(monkeypatch):
    """A new kind is one `register` call: Config accepts it, step 1 takes its statistic, the
    loss its distance, the CLI lists it."""
    from nst_tutorial import style_losses
    from nst_tutorial.cli.paint import build_parser

    seen = []

    def channel_max(features: torch.Tensor) -> torch.Tensor:  # a toy statistic: each channel's largest value
        seen.append(tuple(features.shape))
        return features.flatten(2).amax(dim=2)

    monkeypatch.setitem(style_losses.KINDS, "toy_max", style_losses.StyleKind(channel_max, weight=3.0))
    cfg = nt.Config(size=32, iterations=3, scales=(1.0,), style_loss="toy_max", style_weight=3.0)
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    assert seen and all(len(shape) == 4 for shape in seen)
    style_terms = [k for k in result.history if k.startswith("style/")]
    assert len(style_terms) == 5 and all(result.history[k][0] > 0 for k in style_terms)
    layer = result.model.loss_modules()["style_conv1_1"]
    assert layer.target.shape == (1, 64)  # the toy statistic, not a Gram matrix
    assert "toy_max" in build_parser().format_help()
    with pytest.raises(nt.ConfigError, match="style_loss"):
        nt.Config(style_loss="not_registered")


def test_w2_is_finite_on_a_rank_deficient_map_and_at_the_smallest_sizes():
    """Fewer positions than channels (conv5_1 of a 32 px picture: 2x2 positions, 512 channels)
    make a rank-deficient covariance on which float32's eigensolver failed to converge."""
    from nst_tutorial.style_losses import gaussian_w2, mean_cov, sqrtm

    g = torch.Generator().manual_seed(0)
    style = torch.relu(torch.randn(6, 512, generator=g))
    image = torch.relu(torch.randn(4, 512, generator=g)).requires_grad_(True)
    mean_s, cov_s = mean_cov(style)
    root = sqrtm(cov_s)
    assert torch.allclose(root @ root, cov_s, atol=1e-5)  # still the square root
    loss = gaussian_w2(*mean_cov(image), mean_s, root)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(image.grad).all()
    mean_d, cov_d = mean_cov(style.double())
    same = gaussian_w2(mean_d, cov_d, mean_d, sqrtm(cov_d))
    assert abs(same.item()) < 1e-3 * cov_d.trace().item()  # to itself: 0 up to the eigensolver's tiny ridge
    cfg = nt.Config(size=64, iterations=3, coarse_iterations=15, style_loss="w2", style_weight=KINDS["w2"].weight)
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    assert all(map(math.isfinite, result.total)) and [s.height for s in result.stages] == [32, 64]
