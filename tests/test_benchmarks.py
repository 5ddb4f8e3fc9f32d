"""The benchmark's pieces: pastiche's objective in our terms, the FLOP count, and a smoke run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.stages import stage_sizes

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
    assert bench.forward_flops(cfg, h, w) == convs + 2 * 64 * 64 * h * w  # + the Gram of conv1_1


def test_coarse_to_fine_starts_the_full_size_stage_closer_to_the_style():
    # From the photo, the same objective in both stages: what the carry does, apart from the default's other choices
    base = nt.Config(size=64, iterations=3, coarse_iterations=15, scales=(1.0,), init="content", coarse_content=1.0,
                     full_size_deepest=None)
    assert stage_sizes(nt.Config(size=512, scales=(0.25, 0.5, 1.0))) == [128, 256, 512]
    single = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), base, progress=False)
    multi = {carry: nt.stylize(image_path("u_street_metro"), image_path("starry_night"),
                               replace(base, scales=(0.5, 1.0), coarse_carry=carry), progress=False)
             for carry in ("image", "change")}

    def content_term(result: nt.SolveResult, i: int) -> float:
        return sum(v[i] for k, v in result.history.items() if k.startswith("content/"))

    for result in multi.values():
        assert result.image.shape == single.image.shape == (1, 3, 64, 48)
        full = result.stages[-1].start  # the first full-size iteration
        assert result.total[full] < 0.7 * single.total[0]
    # Carrying the change keeps the photo's fine detail: the full-size stage starts nearer the photo.
    starts = {carry: content_term(r, r.stages[-1].start) for carry, r in multi.items()}
    assert starts["change"] < 0.8 * starts["image"]


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
    assert "scored from 8-bit files with pastiche's objective" in proc.stdout and "peak RSS" in proc.stdout
    report = json.loads(out.read_text())
    race = report["races"][0]
    assert race["pastiche"]["content"] >= 0 and race["pastiche"]["style"] > 0  # 3 steps may keep the photo
    assert race["ours"]["score"] == race["ours"]["content"] + race["ours"]["style"] > 0
    assert report["first_loss"]["ours"]["median_s"] > 0 and report["first_loss"]["pastiche"]["median_s"] > 0
    e = report["evaluations"][0]
    assert 0 < e["conv_s"] < e["profiled_s"] and 0 < e["outside_share"] < 1
    assert report["memory"]["cli_peak_mb"] > 0 and report["memory"]["pastiche_peak_mb"] > 0


def test_the_race_weighs_our_content_by_the_balance_but_judges_at_pastiches_weights():
    spec = {"size": 48, "scales": [0.5, 1.0], "coarse_iterations": 2, "coarse_carry": "change", "iterations": 3,
            "lbfgs_history": 5, "content_balance": 2.0}
    cfg = bench.race_config(spec)
    assert cfg.content_weight == 2.0 * bench.pastiche_objective(48).content_weight
    assert (cfg.scales, cfg.iterations, cfg.tolerance, cfg.precision) == ((0.5, 1.0), 3, 0.0, "float32")
    assert bench.race_config({**spec, "precision": "auto"}).precision == "auto"  # our side: as `our_command` asks
    content, style = image_path("u_street_metro"), image_path("starry_night")
    ours, theirs = nt.prepare(content, style, cfg), nt.prepare(content, style, bench.pastiche_objective(48))
    x = torch.rand(1, 3, *ours.image.shape[-2:], generator=torch.Generator().manual_seed(0))
    terms = []
    for model in (ours, theirs):
        with torch.no_grad():
            model.image.copy_(model.normalizer.to_model(x))
            model()
        terms.append({k: [v.item()] for k, v in model.losses().items()})
    got, expected = bench.pastiche_terms(terms[0], 2.0), bench.pastiche_terms(terms[1], 1.0)
    assert expected[0] > 0 and expected[1] > 0
    for a, b in zip(got, expected):
        assert abs(a - b) <= 1e-5 * b


def test_video_benchmark_smoke_run_writes_both_ways_and_a_figure(tmp_path):
    script = BENCH.with_name("video.py")
    proc = subprocess.run([sys.executable, str(script), "--smoke", "--json", str(tmp_path / "v.json"), "--figure",
                           str(tmp_path / "v.png")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads((tmp_path / "v.json").read_text())
    for way in ("temporal", "independent"):
        assert len(row[way]["per_frame"]["seconds"]) == 2 and row[way]["warping_error"] >= 0
        assert 0 < row[way]["content_fidelity"] <= 1 and row[way]["style_sw"] > 0
    assert len(row["temporal"]["per_frame"]["iterations"][1]) == 1  # a later frame: one stage, at full size
    assert len(row["independent"]["per_frame"]["iterations"][1]) == 2  # coarse to fine, as the first
    assert (tmp_path / "v.png").stat().st_size > 0 and (tmp_path / "v_change.png").stat().st_size > 0


def test_classroom_benchmark_smoke_run_measures_memory_and_waits(tmp_path):
    script = BENCH.with_name("classroom.py")
    proc = subprocess.run([sys.executable, str(script), "--smoke", "--json", str(tmp_path / "c.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "c.json").read_text())
    memory = result["memory_mb"]
    assert memory["server, no visitor"] < memory["1 idle visitor(s)"] < memory["2 idle visitor(s)"]  # a kernel each
    (job,) = result["jobs"]
    assert job["status"] == "done" and job["ran"] > 0 and job["waited"] >= 0
    assert result["serve's last line"].startswith("nst-tutorial serve: stopped (visitors: 2, pictures painted: 1)")


def test_grid_benchmark_smoke_runs_both_configs_scores_them_and_draws_the_sheet(tmp_path):
    script = BENCH.with_name("grid.py")
    proc = subprocess.run([sys.executable, str(script), "speed", "--smoke", "--json", str(tmp_path / "g.json"),
                           "--sheet", str(tmp_path / "sheet.png")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "g.json").read_text())
    assert [r["held_out"] for r in report["rows"]] == [False, True]  # the first pair was looked at, the Kiss not
    for row in report["rows"]:
        for way in ("before", "now"):
            assert row[way]["seconds"] > 0 and 0 < row[way]["content_fidelity"] <= 1 and row[way]["style_sw"] > 0
        assert [s for s, _ in row["now"]["iterations"]] == [24, 48]  # coarse to fine, as the default
    assert report["summary"]["time_ratio_median"] > 0
    with Image.open(tmp_path / "sheet.png") as sheet:  # one row per pair, four pictures each
        assert sheet.width == 4 * 160 and sheet.height > 2 * 160


def test_the_grid_is_fixed_four_photos_by_three_paintings_with_a_third_held_out():
    spec = importlib.util.spec_from_file_location("grid", BENCH.with_name("grid.py"))
    grid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(grid)
    assert len(grid.GRID) == 12 == len(set(grid.GRID))
    assert {p for p, _ in grid.GRID} == set(grid.PHOTOS) and {s for _, s in grid.GRID} == set(grid.PAINTINGS)
    assert sum(map(grid.held_out, grid.GRID)) == 4
    assert all(image_path(name).is_file() for pair in grid.GRID for name in pair)
    before = grid.BEFORE  # the default before the grid: 160 coarse iterations, then up to 200, from the photo
    assert (before.coarse_iterations, before.iterations, before.init) == (160, 200, "content")
    assert (before.content_weight, before.coarse_content, before.full_size_deepest) == (0.4, 1.0, None)
    assert before.precision == "float32"  # e7ee3bf had only float32 convolutions
