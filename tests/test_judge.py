"""The metrics that judge a picture, against explicit formulas and cases with a known answer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.images import quantise
from nst_tutorial.judge.metrics import CONTENT_TAPS, Judge, delta_e


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(nt.load_image(image_path("u_street_metro"), 96), nt.load_image(image_path("starry_night"), 96))


def test_the_photo_scores_full_fidelity_no_style_and_no_colour_change(judge):
    s = judge.score(judge.content)
    assert s.content_fidelity == pytest.approx(1.0, abs=1e-5)
    assert s.style_sw == pytest.approx(1.0) and s.style_gram == pytest.approx(1.0) and s.delta_e == 0.0


def test_content_fidelity_is_the_mean_cosine_of_conv4_1_and_conv5_1_features(judge):
    x = quantise(torch.rand(judge.content.shape, generator=torch.Generator().manual_seed(0)))
    fx, fc = judge.features(x), judge.features(quantise(judge.content))
    cosines = [(fx[t] * fc[t]).sum() / (fx[t].norm() * fc[t].norm()) for t in CONTENT_TAPS]
    assert judge.score(x).content_fidelity == pytest.approx(sum(cosines).item() / 2, rel=1e-5)
    assert judge.score(x).content_fidelity < 0.9


def test_the_painting_itself_is_far_closer_to_the_painting_than_the_photo_is(judge):
    s = judge.score(nt.load_image(image_path("starry_night"), 96))
    assert s.style_sw < 0.05 and s.style_gram < 0.05 and s.content_fidelity < 0.9


def test_delta_e_of_red_against_green_is_the_known_ciede2000_value():
    red, green = torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1), torch.tensor([0, 1.0, 0]).view(1, 3, 1, 1)
    assert delta_e(red, green) == pytest.approx(86.61, abs=0.1)  # sRGB red vs green, CIEDE2000


def test_scores_are_of_the_8_bit_image():
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(quantise(x) * 255, (x * 255).round())
    assert F.mse_loss(quantise(x), x) > 0


def run_score(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_tutorial", "score", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_score_command_prints_json_for_any_images_and_notes_resizing(tmp_path):
    nt.save_image(nt.load_image(image_path("u_street_metro"), 64), tmp_path / "photo.png")
    Image.new("RGB", (30, 40), "navy").save(tmp_path / "navy.png")
    proc = run_score("u_street_metro", "starry_night", "photo.png", "navy.png", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["photo.png"]["content_fidelity"] > 0.99 > scores["navy.png"]["content_fidelity"]
    assert scores["navy.png"]["delta_e"] > scores["photo.png"]["delta_e"]
    assert "note: the content photo (768x1024) was resized to the image's 30x40" in proc.stderr


def test_score_command_refuses_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    proc = run_score("u_street_metro", "starry_night", "notes.txt", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["nst-tutorial score: error: notes.txt: not an image Pillow can read"]


def test_report_on_a_normal_run_scores_the_written_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nst_tutorial", "--size", "40", "-n", "2", "--coarse-iterations",
                           "1", "-q", "--report", "-o", "out.png"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.strip().splitlines()
    assert table[-2].startswith("image") and "content fidelity" in table[-2] and table[-1].startswith("out.png")


def test_a_judge_in_strips_scores_as_one_in_whole_maps_and_low_memory_reports_use_it(monkeypatch, tmp_path):
    from nst_tutorial.cli import main, paint
    from nst_tutorial.speed.fastconv import Conv3x3

    photo, painting = nt.load_image(image_path("u_street_metro"), 320), nt.load_image(image_path("starry_night"), 320)
    whole, strips = Judge(photo, painting), Judge(photo, painting, low_memory=True)
    convs = [m for m in strips.net.modules() if isinstance(m, Conv3x3)]
    assert convs and all(m.low_memory for m in convs)
    assert convs[1].strip_rows(*photo.shape[-2:]) < photo.shape[-2]  # 320x240 at conv1_2: more than one strip
    image = torch.rand(1, 3, *photo.shape[-2:], generator=torch.Generator().manual_seed(0))
    a, b = whole.score(image), strips.score(image)
    for key in ("content_fidelity", "style_sw", "style_gram"):
        assert getattr(b, key) == pytest.approx(getattr(a, key), rel=1e-4)
    made = []
    monkeypatch.setattr(paint, "Judge", lambda *args, **kw: made.append(kw) or Judge(*args, **kw))
    monkeypatch.chdir(tmp_path)
    assert main(["--size", "40", "-n", "1", "--coarse-iterations", "1", "-q", "--report", "--low-memory",
                     "-o", "out.png"]) == 0
    assert made == [{"low_memory": True}]
