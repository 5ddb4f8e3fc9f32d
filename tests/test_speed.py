"""The speed-ups change no result: NNPACK's and Winograd's convolutions against F.conv2d and
autograd, our L-BFGS against torch.optim.LBFGS, and start-up without TorchDynamo."""

from __future__ import annotations

import math
from dataclasses import replace
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.speed.bf16 import bf16_conv3x3, bf16_ready, bf16_weight
from nst_tutorial.speed.fastconv import Conv3x3, nnpack_ready
from nst_tutorial.speed.lbfgs import LBFGS
from nst_tutorial.solve import make_optimizer
from nst_tutorial.speed.winograd import kernel_transform, winograd_conv3x3, winograd_conv3x3_input_grad


def conv_and_reference(c_in: int, c_out: int, h: int, w: int, **kwargs) -> tuple[Conv3x3, torch.Tensor]:
    g = torch.Generator().manual_seed(c_in + h)
    weight, bias = torch.randn(c_out, c_in, 3, 3, generator=g) * 0.1, torch.randn(c_out, generator=g)
    conv = Conv3x3(weight, bias, **kwargs).requires_grad_(False)
    return conv, torch.randn(1, c_in, h, w, generator=g)


def assert_matches_conv2d(conv: Conv3x3, x: torch.Tensor) -> torch.Tensor:
    """`conv(x)` and its input gradient against F.conv2d's and autograd's, to 1e-4 of the largest
    value, by a different algorithm; returns F.conv2d's output."""
    x_fast, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = conv(x_fast)
    ref = F.conv2d(x_ref, conv.weight, conv.bias, padding=1)
    assert not torch.equal(out, ref)  # a different algorithm ran...
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4 * ref.abs().max().item())  # ...to the same result
    upstream = torch.randn_like(ref)
    out.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x_fast.grad, x_ref.grad, rtol=0, atol=1e-4 * x_ref.grad.abs().max().item())
    return ref.detach()


def test_nnpack_conv_and_its_input_gradient_match_conv2d():
    assert nnpack_ready(), "this PyTorch build has no NNPACK: the fast path would never run"
    conv, x = conv_and_reference(32, 48, 70, 66)  # odd sizes: NNPACK's tiles do not divide them
    assert conv.path(x) == "nnpack"
    assert_matches_conv2d(conv, x)


def test_strips_give_one_calls_convolution_with_smaller_calls(monkeypatch):
    calls: list[int] = []  # output positions of each NNPACK call
    nnpack = torch._nnpack_spatial_convolution

    def counted(x, weight, bias, padding):
        out = nnpack(x, weight, bias, padding)
        calls.append(out.shape[-2] * out.shape[-1])
        return out

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counted)
    monkeypatch.setattr(Conv3x3, "strip_positions", 40 * 90)
    conv, x = conv_and_reference(16, 24, 150, 90)  # strips of 42, 42, 42 and 24 rows
    conv.low_memory = True
    assert_matches_conv2d(conv, x)
    assert calls == [42 * 90] * 3 + [24 * 90] + [42 * 90] * 3 + [24 * 90]  # forward, then the input's gradient


def test_low_memory_gives_the_default_loss_and_gradient(monkeypatch):
    monkeypatch.setattr(Conv3x3, "strip_positions", 64 * 64)  # 160x120: block 1 in 5 strips, block 2 in 2
    results = []
    for low in (False, True):
        cfg = nt.Config(size=160, low_memory=low, device="cpu", precision="float32")
        model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
        assert all(m.low_memory == low for m in model.modules() if isinstance(m, Conv3x3))
        assert ("winograd" in {m.path(x) for m, x in inputs_of_convs(model)}) != low  # its kernels cost memory
        loss = model()
        loss.backward()
        results.append((loss.item(), model.image.grad, make_optimizer(model, cfg)))
    (loss, grad, plain), (low_loss, low_grad, low_opt) = results
    assert low_loss == pytest.approx(loss, rel=1e-5)
    assert (low_grad - grad).norm() <= 2e-3 * grad.norm()  # NNPACK's rounding, as in the test above
    assert plain.s.dtype == torch.float32 and low_opt.s.dtype == torch.bfloat16  # half the history's bytes


def test_lbfgs_with_a_bfloat16_history_still_solves_a_quadratic():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(60, 60, generator=g)
    a = a @ a.T / 60 + 0.5 * torch.eye(60)
    b = torch.randn(60, generator=g)
    solution = torch.linalg.solve(a, b)  # the minimiser of x.A.x / 2 - b.x

    def error_after(dtype: torch.dtype, steps: int) -> float:
        x = torch.zeros(60, requires_grad=True)
        run_optimizer(lambda x: LBFGS(x, history=8, dtype=dtype), x, lambda: 0.5 * x @ a @ x - b @ x, steps)
        return ((x.detach() - solution).norm() / solution.norm()).item()

    assert error_after(torch.bfloat16, 40) < 1e-3  # the rounded pairs still carry the curvature
    assert error_after(torch.bfloat16, 40) < 0.01 * error_after(torch.bfloat16, 5)


@pytest.mark.parametrize("shape", [(2, 16, 13, 10), (1, 3, 1, 1), (2, 8, 5, 7), (1, 24, 16, 16)])
def test_winograd_conv_and_its_input_gradient_match_conv2d_and_autograd(shape):
    b, c, h, w = shape  # sides that 4x4 tiles do not divide, a single pixel, a batch
    g = torch.Generator().manual_seed(h * w)
    x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(c + 3, c, 3, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(c + 3, generator=g, dtype=torch.float64)
    ref = F.conv2d(x, weight, bias, padding=1)
    upstream = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    (ref_grad,) = torch.autograd.grad(ref, x, upstream)
    u = kernel_transform(weight)
    assert u.shape == (36, c + 3, c)
    # In float64 the algorithm is exact up to rounding: any wrong matrix entry or tile offset shows.
    torch.testing.assert_close(winograd_conv3x3(x.detach(), u, bias), ref.detach(), rtol=0, atol=1e-9)
    torch.testing.assert_close(winograd_conv3x3_input_grad(upstream, u), ref_grad, rtol=0, atol=1e-9)


def test_conv_takes_winograd_on_small_maps_with_its_kernels_transformed_once():
    conv, x = conv_and_reference(32, 48, 30, 22)  # 660 positions: between Winograd's and NNPACK's thresholds
    assert conv.path(x) == "winograd"
    ref = assert_matches_conv2d(conv, x)
    kernels = conv.winograd_kernels()
    assert conv.winograd_kernels() is kernels  # kept between calls
    with torch.no_grad():
        conv.weight.mul_(2)  # new weights: transformed again, and used
    torch.testing.assert_close(conv(x), 2 * ref - conv.bias.view(1, -1, 1, 1), rtol=0,
                               atol=3e-4 * ref.abs().max().item())
    conv(torch.randn(1, 32, 70, 66))  # a map for NNPACK: the transformed kernels are let go
    assert conv._winograd is None


@pytest.mark.parametrize("case", ["small map", "learning weights", "float64", "fast off"])
def test_conv_falls_back_to_conv2d(case):
    small = case == "small map"  # 10x20: below Winograd's threshold too
    conv, x = conv_and_reference(8, 16, 10 if small else 70, 20 if small else 70, fast=case != "fast off")
    if case == "learning weights":
        conv.requires_grad_(True)
    if case == "float64":
        conv, x = conv.double(), x.double()
    assert conv.path(x) == "direct"
    assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))


def test_fast_network_gives_the_same_loss_and_gradient():
    losses, grads, paths = [], [], []
    for fast in (True, False):
        cfg = nt.Config(size=160, fast_conv=fast, device="cpu", precision="float32")  # 160x120: blocks 1-2 NNPACK,
        # 3-4 Winograd
        model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
        paths.append({m.path(x) for m, x in inputs_of_convs(model)})
        loss = model()
        loss.backward()
        losses.append(loss.item())
        grads.append(model.image.grad)
    assert paths == [{"nnpack", "winograd", "direct"}, {"direct"}]
    assert not torch.equal(grads[0], grads[1])  # the fast algorithms really ran inside the network...
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)  # ...and changed nothing that matters
    # Rounding differences of 1e-5 flip a few ReLUs and max-pool winners, which moves the
    # gradient at a few pixels (0.5% of its largest entry at most, measured): compare norms.
    assert (grads[0] - grads[1]).norm() <= 2e-3 * grads[1].norm()


def inputs_of_convs(model: nt.AugmentedModel) -> list[tuple[Conv3x3, torch.Tensor]]:
    """Each convolution of the model's network with the input it gets in a forward pass."""
    seen: list[tuple[Conv3x3, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: seen.append((m, args[0])))
             for m in model.net.modules() if isinstance(m, Conv3x3)]
    with torch.no_grad():
        model()
    for h in hooks:
        h.remove()
    return seen


def run_optimizer(make, x: torch.Tensor, objective, steps: int) -> torch.Tensor:
    """The iterates of `steps` optimizer steps on the leaf tensor `x`: (steps, *x.shape)."""
    opt = make(x)
    iterates = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
        iterates.append(x.detach().clone())
    return torch.stack(iterates)


def test_lbfgs_takes_torchs_steps_on_a_quadratic():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(40, 40, generator=g, dtype=torch.float64)
    a = a @ a.T + 0.1 * torch.eye(40, dtype=torch.float64)
    b = torch.randn(40, generator=g, dtype=torch.float64)

    def objective(x):
        return 0.5 * x @ a @ x - b @ x

    def run(make) -> torch.Tensor:
        x = torch.zeros(40, dtype=torch.float64, requires_grad=True)
        return run_optimizer(make, x, lambda: objective(x), steps=25)  # 25 > 4: old pairs drop out

    ours = run(lambda x: LBFGS(x, history=4))
    torchs = run(lambda x: torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=4))
    torch.testing.assert_close(ours, torchs, rtol=1e-12, atol=0)
    assert objective(ours[-1]) < objective(ours[0]) - 1


def test_lbfgs_takes_torchs_steps_on_the_style_loss():
    model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), nt.Config(size=32, device="cpu"))
    x0 = model.image.detach().clone()

    def run(make) -> torch.Tensor:
        with torch.no_grad():
            model.image.copy_(x0)
        return run_optimizer(make, model.image, lambda: model(), steps=8)

    ours = run(lambda x: LBFGS(x, history=5))
    torchs = run(lambda x: torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=5))
    torch.testing.assert_close(ours, torchs, rtol=1e-5, atol=1e-3)  # pixels in 0-255 units
    assert (ours[-1] - x0).abs().max() > 1  # it moved


def test_a_solve_starts_without_importing_torchdynamo():
    # torch.optim's step imports TorchDynamo (1.7 s here) on first use; our solve must not
    code = ("import sys, nst_tutorial as nt\n"
            "from nst_tutorial.data import image_path\n"
            "nt.stylize(image_path('u_street_metro'), image_path('starry_night'),"
            " nt.Config(size=32, iterations=2, device='cpu'), progress=False)\n"
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_without_nnpacks_private_bindings_a_solve_warns_once_and_runs_on_the_public_path(monkeypatch):
    from nst_tutorial.speed import nnpack

    monkeypatch.delattr(torch, "_nnpack_spatial_convolution")
    nnpack.nnpack_ready.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no torch._nnpack_spatial_convolution") as caught:
            cfg = nt.Config(size=128, iterations=2, scales=(1.0,), device="cpu", precision="float32")
            result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
        assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
        conv = result.model.net.conv1_1
        assert conv.path(torch.zeros(1, 3, 128, 96)) == "direct"  # the map NNPACK would take goes to PyTorch
        assert all(map(math.isfinite, result.total)) and len(result.total) == 2
    finally:
        nnpack.nnpack_ready.cache_clear()


def bf16_rounded(t: torch.Tensor) -> torch.Tensor:
    """`t` rounded to bfloat16, held in float64 for a reference computed without further rounding."""
    return t.to(torch.bfloat16).double()


def test_bf16_conv_and_its_input_gradient_match_float64_on_rounded_numbers():
    """bfloat16 products and float32 sums: the float64 convolution of the rounded input, weights and
    upstream gradient, to one more bfloat16 rounding of each output (2^-9 of it) and float32's sums."""
    conv, x = conv_and_reference(32, 48, 70, 66)
    conv.bf16 = True
    assert conv.path(x) == ("bf16" if bf16_ready() else "nnpack")
    x = x.requires_grad_()
    out = bf16_conv3x3(x, bf16_weight(conv.weight), conv.bias)
    assert out.dtype == torch.float32 and out.shape == (1, 48, 70, 66)
    ref = F.conv2d(bf16_rounded(x), bf16_rounded(conv.weight), bf16_rounded(conv.bias), padding=1)
    assert ((out.double() - ref).abs() <= 2**-8 * ref.abs() + 1e-5 * ref.abs().max()).all()
    exact = F.conv2d(x.detach(), conv.weight, conv.bias, padding=1)
    assert (out - exact).abs().max() > 1e-3 * exact.abs().max()  # it did round: not float32's result
    upstream = torch.randn_like(out)
    out.backward(upstream)
    ref_grad = torch.nn.grad.conv2d_input(x.shape, bf16_rounded(conv.weight), bf16_rounded(upstream), padding=1)
    assert ((x.grad.double() - ref_grad).abs() <= 2**-8 * ref_grad.abs() + 1e-5 * ref_grad.abs().max()).all()


def test_a_bfloat16_network_computes_the_float32_objective_to_its_rounding():
    losses, grads, paths = [], [], []
    for precision in ("bfloat16", "float32"):
        cfg = nt.Config(size=160, device="cpu", precision=precision)
        model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
        paths.append({m.path(x) for m, x in inputs_of_convs(model)})
        loss = model()
        loss.backward()
        losses.append(loss.item())
        grads.append(model.image.grad.flatten())
    assert paths == [{"bf16"} if bf16_ready() else {"nnpack", "winograd", "direct"}, {"nnpack", "winograd", "direct"}]
    # Measured at 256 px: the loss within 1.2%, the gradient 7.7% away in norm at a cosine of 0.997.
    assert losses[0] == pytest.approx(losses[1], rel=3e-2)
    assert F.cosine_similarity(grads[0], grads[1], dim=0) > 0.99


def test_precision_picks_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    from nst_tutorial import stages

    f32, auto, bf = (nt.Config(precision=p) for p in ("float32", "auto", "bfloat16"))
    assert not stages.wants_bf16(f32)
    assert stages.wants_bf16(auto) == stages.wants_bf16(bf) == bf16_ready()
    gaussian = nt.Config(style_loss="gaussian")  # "auto": the Gram loss only, whose pictures were judged
    assert not stages.wants_bf16(gaussian)
    assert stages.wants_bf16(replace(gaussian, precision="bfloat16")) == bf16_ready()
    monkeypatch.setattr(stages, "bf16_ready", lambda: False)
    stages._warn_no_bf16.cache_clear()
    assert not stages.wants_bf16(auto)
    with pytest.warns(RuntimeWarning, match="runs in float32"):
        assert not stages.wants_bf16(bf)
    with pytest.raises(nt.ConfigError, match="precision must be one of auto, float32, bfloat16"):
        nt.Config(precision="half")
