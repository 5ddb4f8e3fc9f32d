"""The command line: the default job, options, and the bad-input table (exit 2, one line, nothing written)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

import nst_tutorial as nt

from nst_tutorial import Config
from nst_tutorial.cli import main
from nst_tutorial.cli.options import config_from_args, parse_layers
from nst_tutorial.cli.paint import build_parser
from nst_tutorial.data import image_path

from .test_images import BAD, make_bad


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_tutorial", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_default_job_writes_stylized_png(tmp_path):
    # Only size and iterations shrink; content, style and output are the defaults.
    proc = run_cli("--size", "48", "--iterations", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "stylized.png"
    assert f"wrote {out}" in proc.stdout
    assert Image.open(out).size == (36, 48)  # the rail photo is portrait, 768x1024
    assert "u_street_metro.jpg" in proc.stderr and "starry_night.jpg" in proc.stderr
    assert "stage 2/2, 48 px" in proc.stderr  # the progress bar names its stage (24 px, then 48 px)


def test_options_and_snapshots(tmp_path, capsys):
    style2 = str(image_path("the_scream"))
    code = main(["--content", str(image_path("coffee")), "--style", str(image_path("starry_night")), style2,
                 "--output", str(tmp_path / "cup.jpg"), "--size", "40", "-n", "4", "--optimizer", "adam",
                 "--style-layers", "conv1_1:0.5,conv2_1", "--content-layers", "conv3_2", "--tv-weight", "1",
                 "--init", "noise", "--seed", "1", "--device", "cpu", "--save-every", "2", "--no-event-gate",
                 "--pooling", "avg", "--direct-conv", "--quiet"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cup.jpg", "cup_0002.png", "cup_0004.png"]
    assert Image.open(tmp_path / "cup.jpg").size == (40, 27)
    assert capsys.readouterr().err == ""  # --quiet: no bar, no chatter


def test_switches_reach_the_config():
    assert config_from_args(build_parser().parse_args([])) == Config()
    cfg = config_from_args(build_parser().parse_args(["--direct-conv", "--single-scale", "--pre-relu"]))
    assert (cfg.fast_conv, cfg.scales, cfg.relu_in_place) == (False, (1.0,), False)
    assert cfg.iterations == 200 != Config().iterations  # a plain solve gets the seed's iterations...
    assert config_from_args(build_parser().parse_args(["--single-scale", "-n", "7"])).iterations == 7  # ...unless -n
    assert config_from_args(build_parser().parse_args(["--precision", "float32"])).precision == "float32"


def test_style_loss_option_brings_its_own_weight_unless_given():
    parse = build_parser().parse_args
    assert config_from_args(parse(["--style-loss", "w2"])) == Config(style_loss="w2", style_weight=160.0)
    assert config_from_args(parse(["--style-loss", "gaussian", "--style-weight", "3"])).style_weight == 3.0


def test_preset_mycaffe_and_options_over_it():
    parse = build_parser().parse_args
    assert config_from_args(parse(["--preset", "mycaffe"])) == Config.mycaffe()
    cfg = config_from_args(parse(["--preset", "mycaffe", "--size", "128", "--content-weight", "0.01"]))
    assert cfg == Config.mycaffe(size=128, content_weight=0.01)


def test_preset_mycaffe_runs_end_to_end(tmp_path):
    proc = run_cli("--preset", "mycaffe", "--size", "40", "-n", "3", "-o", "m.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "m.png").size == (30, 40) and "3 at 40 px" in proc.stderr


def test_parse_layers():
    assert parse_layers("conv1_1:0.5,conv2_1") == (("conv1_1", "conv2_1"), (0.5, 0.5))
    assert parse_layers("conv4_2", 1.0) == (("conv4_2",), (1.0,))


@pytest.mark.parametrize("kind", list(BAD))
@pytest.mark.parametrize("role", ["--content", "--style"])
def test_bad_image_exits_2_with_one_line(tmp_path, capsys, kind, role):
    bad = make_bad(kind, tmp_path)
    before = set(tmp_path.rglob("*"))
    code = main([role, str(bad), "--size", "32", "-n", "1", "-o", str(tmp_path / "o.png")])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tutorial: error:") and BAD[kind] in lines[0]
    assert set(tmp_path.rglob("*")) == before


def test_error_in_a_real_process_has_no_traceback(tmp_path):
    proc = run_cli("--content", str(tmp_path / "nope.jpg"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"nst-tutorial: error: {tmp_path / 'nope.jpg'}: no such file, and no "
                                                "bundled image of that name (nst-tutorial --list-images shows them)"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--size", "8"], "at least 16"),
    (["--content", "{small}"], "at least 16"),
    (["--style-layers", "conv9_1"], "unknown layer 'conv9_1'"),
    (["--content-layers", "conv4_2:-1"], "finite number >= 0"),
    (["--style-weight", "nan"], "finite number >= 0"),
    (["--iterations", "0"], "iterations must be"),
    (["-o", "{tmp}/no/such/dir/out.png"], "does not exist"),
    (["-o", "{tmp}/out.gif"], ".png, .jpg"),
    (["-o", "/proc/out.png"], "could not write"),
])
def test_bad_settings_exit_2_with_one_line(tmp_path, capsys, args, message):
    small = tmp_path / "thin.png"
    Image.new("RGB", (96, 8), "red").save(small)  # at --size 32 it is 32x3 pixels
    args = [a.format(tmp=tmp_path, small=small) for a in args]
    before = set(tmp_path.rglob("*"))
    code = main(["--size", "32", "-n", "1", "-o", str(tmp_path / "o.png"), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert set(tmp_path.rglob("*")) == before


def test_help_lists_the_subcommands_at_the_top():
    top = build_parser().format_help().splitlines()[:10]
    for command in ("score", "sweep", "video", "serve"):
        assert any(f"nst-tutorial {command}" in line for line in top), command


def test_the_thread_count_follows_the_cores_other_work_leaves_free(monkeypatch):
    import os

    from nst_tutorial.cli.paint import threads_for

    parse = build_parser().parse_args
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.5, 4.0, 3.0))  # a busy 2-core machine
    assert threads_for(parse([])) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))  # a quiet one
    assert threads_for(parse([])) == 2
    assert threads_for(parse(["--threads", "3"])) == 3


def test_the_start_line_says_how_many_threads_and_how_to_change_it(tmp_path, capsys):
    assert main(["--size", "32", "-n", "1", "--threads", "1", "-o", str(tmp_path / "o.png")]) == 0
    start = capsys.readouterr().err.splitlines()[0]
    assert "on cpu, 1 thread (--threads):" in start


def test_a_misspelt_grid_key_suggests_the_setting():
    from nst_tutorial.batch.grid import configs

    with pytest.raises(nt.ConfigError, match=r"'content_weigth' is not a setting; did you mean content_weight\?$"):
        configs(nt.Config(), {"content_weigth": [0.1]})
