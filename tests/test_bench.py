"""The benchmark's pieces: pastiche's objective in our terms, the FLOP count, and a smoke run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.cost import forward_flops
from nst_tutorial.data import image_path
from nst_tutorial.pipeline import stage_sizes

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
_spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench"] = bench  # dataclasses look their module up there
_spec.loader.exec_module(bench)


def test_pastiche_objective_matches_pastiches_formula_on_a_random_image():
    from pastiche.pastiche import gram as pastiche_gram
    from pastiche.vgg19 import VGG19

    size = 48
    cfg = bench.pastiche_objective(size)
    model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
    x = torch.rand(1, 3, *model.image.shape[-2:])
    with torch.no_grad():
        model.image.copy_(model.normalizer.to_model(x))
        ours = model().item()
    # The reference: pastiche's own network and Gram, and its formula written out.
    vgg = VGG19.from_quantized_bin(str(nt.vgg.caffe_weights_path()), pooling="max")
    style_layers = ["block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1"]
    norm = nt.Normalizer("caffe")
    content = nt.load_image(image_path("u_street_metro"), size)
    style = nt.load_image(image_path("starry_night"), size)
    with torch.no_grad():
        fx = vgg(norm.to_model(x), style_layers + ["block4_relu2"])
        fc = vgg(norm.to_model(content), ["block4_relu2"])
        fs = vgg(norm.to_model(style), style_layers)
        expected = 0.01 * F.mse_loss(fx["block4_relu2"], fc["block4_relu2"])
        for layer in style_layers:
            c = fx[layer].shape[1]
            expected += 10.0 / c**2 * F.mse_loss(pastiche_gram(fx[layer]), pastiche_gram(fs[layer]))
    assert abs(ours - expected.item()) <= 1e-4 * expected.item()


def test_forward_flops_counts_the_convolutions():
    cfg = nt.Config(style_layers=("conv1_1",), style_layer_weights=(1.0,), content_layers=("conv1_2",),
                    content_layer_weights=(1.0,))
    h, w = 10, 12
    convs = 2 * 3 * 64 * 9 * h * w + 2 * 64 * 64 * 9 * h * w
    assert forward_flops(cfg, h, w) == convs + 2 * 64 * 64 * h * w  # + the Gram of conv1_1


def test_coarse_to_fine_starts_the_full_size_stage_closer_to_the_style():
    base = nt.Config(size=64, iterations=3, coarse_iterations=15, scales=(1.0,))
    assert stage_sizes(nt.Config(size=512, scales=(0.25, 0.5, 1.0))) == [128, 256, 512]
    single = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), base, progress=False)
    multi = nt.stylize(image_path("u_street_metro"), image_path("starry_night"),
                       nt.Config(size=64, iterations=3, coarse_iterations=15, scales=(0.5, 1.0)), progress=False)
    assert multi.image.shape == single.image.shape == (1, 3, 64, 48)
    full = multi.stages[-1].start  # the first full-size iteration
    assert multi.total[full] < 0.5 * single.total[0]


def test_coarse_stages_too_small_for_a_panorama_are_skipped():
    cfg = nt.Config(size=192, scales=(0.25, 0.5, 1.0))
    assert stage_sizes(cfg, aspect=6.0) == [96, 192]  # 48x8 px is below conv5_1's 16 px; 96x16 is not
    assert stage_sizes(cfg, aspect=8.0) == [192]
    assert stage_sizes(cfg, aspect=1.0) == [48, 96, 192]


def test_peak_memory_is_the_childs_own_not_the_parents():
    held = torch.ones(256 * 2**20)  # 1 GiB, touched, held by this process while the child runs
    stats = bench.run_child(bench.python_module("timeit", ["-n1", "-r1", "b'x' * (300 * 2**20)"]))
    assert held.numel() and 300 <= stats["peak_rss_mb"] < 600  # the child's 300 MiB string, not our 1 GiB


def test_smoke_run_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--smoke", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "time to pastiche's quality" in proc.stdout and "peak memory" in proc.stdout
    report = json.loads(out.read_text())
    assert report["pastiche"]["score"] > 0 and report["ours"]["score"] > 0
    assert report["ours"]["first_loss_s"] > 0 and report["pastiche"]["first_loss_s"] > 0
    assert report["evaluations"][0]["ratio"] > 0 and report["time_ratio"] > 0
