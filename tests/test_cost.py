"""The estimator's model of the work against what really happens."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial import cost as E
from nst_tutorial.cost import model as M
from nst_tutorial.stages import full_size_config


F32 = nt.Config(precision="float32")  # NNPACK and Winograd's paths, not bfloat16's


def hooked_saved_bytes(config: nt.Config, height: int, width: int) -> int:
    """The reference: the bytes of every distinct non-weight storage autograd saves in one forward."""
    model = nt.prepare(torch.rand(1, 3, height, width), torch.rand(1, 3, height, width),
                       nt.Config(**{**config.__dict__, "size": max(height, width)}))
    model()  # the bfloat16 weights are made on the first pass, and kept like the weights
    fixed = {p.untyped_storage().data_ptr() for p in model.net.parameters()}
    fixed |= {m._bf16[1].untyped_storage().data_ptr() for m in model.net.modules() if getattr(m, "_bf16", None)}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in fixed:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model()
    return sum(seen.values())


@pytest.mark.parametrize("config, shape", [
    (F32, (128, 96)),  # NNPACK on blocks 1-2, Winograd on 3, direct on 4-5
    (F32, (256, 192)),  # NNPACK on blocks 1-3, Winograd on 4, direct on 5
    (nt.Config(fast_conv=False), (96, 80)),
    (replace(F32, low_memory=True), (256, 192)),  # no Winograd: the direct path keeps its inputs
    (replace(F32, ceil_mode=True), (90, 70)),
    (replace(F32, style_layers=("conv1_1", "conv3_1"), style_layer_weights=(1.0, 1.0), content_layers=("conv2_2",)),
     (64, 64)),
    (nt.Config(precision="bfloat16"), (256, 192)),  # every convolution keeps its input in bfloat16
    (nt.Config(precision="bfloat16", ceil_mode=True), (90, 70)),
])
def test_the_count_of_saved_bytes_is_what_autograd_keeps(config, shape):  # F32: the float32 paths
    assert M.saved_bytes(config, *shape) == hooked_saved_bytes(config, *shape)


FAKE = E.Calibration(baseline_mb=700.0, peak_factor=1.2, seconds_per_gflop=0.01, seconds_per_gflop_fast=0.004)


def test_estimate_follows_the_model_through_the_stages():
    cfg = nt.Config(size=256, iterations=200, coarse_iterations=60, scales=(0.25, 0.5, 1.0))
    est = E.estimate(cfg, (1024, 768), FAKE)
    assert est.size == (256, 192) and est.stages == (64, 128, 256)
    full = M.model_bytes(cfg, 256, 192) / 2**20
    assert est.peak_mb == pytest.approx(700 + 1.2 * full)
    # the full-size stage leaves out conv5_1 after coarse stages: its network ends at conv4_2
    stages = ((cfg, 64, 48), (cfg, 128, 96), (full_size_config(cfg), 256, 192))
    per = [2 * (0.01 * d + 0.004 * f) / 1e9 for d, f in (M.flop_split(c, h, w) for c, h, w in stages)]
    assert per[-1] < 2 * (0.01 * M.flop_split(cfg, 256, 192)[0] + 0.004 * M.flop_split(cfg, 256, 192)[1]) / 1e9
    assert est.seconds_per_iteration == pytest.approx(per[-1])
    assert est.seconds == pytest.approx(60 * per[0] + 60 * per[1] + 200 * per[2])


def test_the_flop_split_follows_where_the_fast_algorithms_run():
    cfg = nt.Config(style_layers=("conv1_1",), style_layer_weights=(1.0,), content_layers=("conv2_1",),
                    device="cpu", precision="float32")
    direct, fast = M.flop_split(cfg, 64, 64)  # conv1_x at 64x64 positions: NNPACK; conv2_1 at 32x32: Winograd
    assert fast == 2 * 9 * ((3 * 64 + 64 * 64) * 64 * 64 + 64 * 128 * 32 * 32)
    assert direct == 2 * 64 * 64 * 64 * 64  # the Gram of conv1_1
    direct, fast = M.flop_split(cfg, 16, 16)  # conv1_x at 16x16: Winograd; conv2_1 at 8x8: direct
    assert fast == 2 * 9 * (3 * 64 + 64 * 64) * 16 * 16
    assert direct == 2 * 9 * 64 * 128 * 8 * 8 + 2 * 64 * 64 * 16 * 16
    assert M.flop_split(nt.Config(fast_conv=False), 64, 64)[1] == 0


@pytest.mark.parametrize("cfg, shape", [
    (replace(F32, device="cpu"), (256, 192)),
    (replace(F32, device="cpu"), (128, 96)),
    (replace(F32, device="cpu", ceil_mode=True), (62, 66)),  # block 3 at 16x17 rounded up (Winograd), 15x16 down
])
def test_the_winograd_kernels_counted_are_those_the_network_holds(cfg, shape):
    from nst_tutorial.speed.fastconv import Conv3x3

    model = nt.prepare(torch.rand(1, 3, *shape), torch.rand(1, 3, *shape), replace(cfg, size=max(shape)))
    with torch.no_grad():
        model()
    held = sum(m._winograd[1].nbytes for m in model.net.modules() if isinstance(m, Conv3x3) and m._winograd)
    assert held == M.winograd_bytes(cfg, *shape) > 0


def test_the_bfloat16_weights_counted_are_those_the_network_holds():
    from nst_tutorial.speed.bf16 import bf16_ready
    from nst_tutorial.speed.fastconv import Conv3x3

    cfg, shape = nt.Config(device="cpu", precision="bfloat16", size=128), (128, 96)
    model = nt.prepare(torch.rand(1, 3, *shape), torch.rand(1, 3, *shape), cfg)
    with torch.no_grad():
        model()
    held = sum(m._bf16[1].nbytes for m in model.net.modules() if isinstance(m, Conv3x3) and m._bf16)
    assert held == M.bf16_bytes(cfg, *shape) and (held > 0) == bf16_ready()
    assert M.bf16_bytes(F32, *shape) == 0


def test_nnpacks_workspace_follows_the_widest_layer_nnpack_runs():
    cfg = replace(F32, device="cpu")
    assert M.nnpack_bytes(cfg, 512, 384) == 512 * 512 * 256 * 4  # conv4_x at 64x48 takes NNPACK
    assert M.nnpack_bytes(cfg, 256, 192) == 256 * 256 * 256 * 4  # conv3_x at 64x48; conv4_x takes Winograd
    assert M.nnpack_bytes(nt.Config(fast_conv=False), 512, 384) == 0
    assert M.nnpack_bytes(cfg, 1024, 768) == M.nnpack_bytes(cfg, 512, 384)  # it does not grow with the picture


def test_lbfgs_history_is_counted_exactly():
    from nst_tutorial.speed.lbfgs import LBFGS

    def held(history: int) -> int:  # what the solver really takes for its pairs
        opt = LBFGS(torch.zeros(1, 3, 64, 48, requires_grad=True), history=history)
        return opt.s.numel() * opt.s.element_size() + opt.y.numel() * opt.y.element_size()

    a, b = nt.Config(lbfgs_history=10), nt.Config(lbfgs_history=110)
    assert M.model_bytes(b, 64, 48) - M.model_bytes(a, 64, 48) == held(110) - held(10)


def test_largest_size_is_the_last_that_fits():
    cfg = nt.Config()
    side = E.largest_size(cfg, (1024, 768), 1500.0, FAKE)
    assert side % 16 == 0 and side > 0
    assert E.estimate(nt.Config(size=side), (1024, 768), FAKE).peak_mb <= 1500
    assert E.estimate(nt.Config(size=side + 16), (1024, 768), FAKE).peak_mb > 1500


def test_a_run_that_would_not_fit_stops_before_it_starts_unless_forced(tmp_path, monkeypatch, capsys):
    from nst_tutorial import cli

    monkeypatch.setattr(E, "available_memory_mb", lambda: 710.0)
    monkeypatch.setattr(E, "calibrate", lambda config, *args, **kwargs: FAKE)
    args = ["--size", "64", "-n", "1", "--coarse-iterations", "1", "-q", "-o", str(tmp_path / "o.png")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "710 MB are available; the largest size that fits is --size" in err[0]
    assert not (tmp_path / "o.png").exists()
    assert cli.main([*args, "--force"]) == 0 and (tmp_path / "o.png").exists()


def test_estimate_option_prints_the_prediction_and_exits(tmp_path, monkeypatch, capsys):
    from nst_tutorial import cli

    monkeypatch.setattr(E, "calibrate", lambda config, *args, **kwargs: FAKE)
    assert cli.main(["--estimate", "--size", "512", "-o", str(tmp_path / "o.png")]) == 0
    out = capsys.readouterr().out
    assert "384x512 px, stages 256 px, 512 px: peak memory about" in out
    assert "largest size that fits" in out and list(tmp_path.iterdir()) == []


def test_calibration_is_measured_once_and_cached_with_when_and_under_what_load(tmp_path):
    cache = tmp_path / "calibration.json"
    first = E.calibrate(nt.Config(), cache)
    assert cache.is_file() and first.baseline_mb > 100 and first.seconds_per_gflop > 0
    assert first.measured_at.endswith("UTC") and first.cores == os.cpu_count() and first.load is not None
    assert E.calibrate(nt.Config(), cache) == first  # read back, not measured again


MEASURED = {"baseline_mb": 600.0, "peak_mb": [700.0, 800.0, 1100.0], "seconds": [0.05, 0.2, 0.8],
            "shapes": [[96, 128], [192, 256], [384, 512]]}


def test_recalibrate_measures_again_and_the_estimate_says_when_and_how_busy(tmp_path, monkeypatch, capsys):
    from nst_tutorial.cli import main
    from nst_tutorial.cost import calibration as C

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    children = []
    monkeypatch.setattr(C, "measure_in_child", lambda config: children.append(config) or MEASURED)
    loads = iter([3.4, 0.2])
    monkeypatch.setattr(C, "_load", lambda: next(loads))
    args = ["--size", "128", "--threads", "2", "-o", str(tmp_path / "o.png")]
    assert main([*args, "--estimate"]) == 0 and main([*args, "--estimate"]) == 0
    busy = capsys.readouterr().out
    assert len(children) == 1  # measured once, then read back
    assert "at load 3.4 on" in busy and "the machine was busy then" in busy and "--recalibrate" in busy
    assert main([*args, "--recalibrate"]) == 0
    quiet = capsys.readouterr().out
    assert len(children) == 2 and "at load 0.2 on" in quiet and "busy" not in quiet


def test_a_run_far_slower_or_faster_than_its_calibration_makes_the_next_estimate_measure_again(tmp_path, monkeypatch,
                                                                                               capsys):
    import json
    from dataclasses import asdict

    from nst_tutorial.cli import main
    from nst_tutorial.cost import calibration as C

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the cache is per thread count: the one --threads 1 runs with
    try:
        path = C.cache_path(nt.Config(size=48))
    finally:
        torch.set_num_threads(threads)
    stale = replace(FAKE, seconds_per_gflop=100.0, seconds_per_gflop_fast=100.0, measured_at="2026-12-01 10:00 UTC",
                    load=5.0, cores=2)  # what a busy machine measured: far too slow
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(asdict(stale)))
    args = ["--size", "48", "-n", "6", "--coarse-iterations", "2", "--threads", "1", "-o", str(tmp_path / "o.png")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "faster than the calibration (calibrated 2026-12-01 10:00 UTC" in err and "measures this machine" in err
    assert not path.exists()  # the next --estimate measures again


def test_check_speed_forgets_only_a_measured_calibration_that_is_more_than_2x_off(tmp_path):
    from nst_tutorial.cost import calibration as C

    cache = tmp_path / "calibration.json"
    measured = replace(FAKE, measured_at="2026-12-01 10:00 UTC", load=0.1, cores=2)
    for seconds, forgotten in ((1.5, False), (0.6, False), (2.5, True), (0.4, True)):
        cache.write_text("{}")
        note = C.check_speed(nt.Config(), measured, 1.0, seconds, cache)
        assert (note is not None) == forgotten and cache.exists() != forgotten
    cache.write_text("{}")
    assert C.check_speed(nt.Config(), E.calibrate(nt.Config(), tmp_path / "none.json", measure=False), 1.0, 9.0,
                         cache) is None  # the built-in constants are no measurement to forget


def test_the_evaluator_shows_the_estimate_and_follows_the_settings(monkeypatch):
    from nst_tutorial.widgets import Evaluator

    monkeypatch.setattr(E, "calibrate", lambda config, *args, **kwargs: FAKE)
    app = Evaluator(nt.Config(size=128, iterations=100))
    before = app.estimate.value
    expected = E.estimate(app.settings(app.controller.config), app.controller.source(app.content.value), FAKE)
    assert f"{expected.peak_mb:,.0f} MB" in before
    app.size.value = 512
    assert app.estimate.value != before and "MB" in app.estimate.value
    blended = app.estimate.value
    app.style2.value = "the_scream.jpg"  # blended: the same work per iteration
    assert app.estimate.value == blended
    app.regions.value = True  # a region each: two Gram matrices per style layer, and masked features
    assert app.estimate.value != blended


def test_regions_add_their_gram_matrices_and_masked_features_to_the_counts():
    cfg = nt.Config(size=256)
    one, two = M.flop_split(cfg, 256, 192), M.flop_split(cfg, 256, 192, regions=2)
    grams = sum(2 * C ** 2 * (256 >> b) * (192 >> b) for C, b in ((64, 0), (128, 1), (256, 2), (512, 3), (512, 4)))
    assert two[0] - one[0] == grams and two[1] == one[1]
    masked = sum(2 * C * (256 >> b) * (192 >> b) * 4 for C, b in ((64, 0), (128, 1), (256, 2), (512, 3), (512, 4)))
    assert M.model_bytes(cfg, 256, 192, regions=2) - M.model_bytes(cfg, 256, 192) == masked
