"""Video (Ruder et al. 2016): the flow, the warp, the consistency check, the temporal loss, the
frame-by-frame solve and `nst-tutorial video`, each against what it must do exactly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from fractions import Fraction

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial import plots
from nst_tutorial.data import image_path
from nst_tutorial.losses import TemporalLoss
from nst_tutorial.video.clips import panned_clip, read_clip, write_clip
from nst_tutorial.video.flow import optical_flow
from nst_tutorial.video.paint import temporal_inputs
from nst_tutorial.video.steadiness import warping_errors
from nst_tutorial.video.warp import inside, long_term, reliable, warp

TINY = ("--size", "48", "-n", "4", "--coarse-iterations", "3", "-q")


def pan(dx: int, dy: int, frames: int = 2) -> list[torch.Tensor]:
    """Frames of a bundled photo seen through a window that moves (dx, dy) whole pixels a frame."""
    return panned_clip(image_path("u_street_metro"), frames, 160, step=(dx, dy)).frames


def test_flow_recovers_a_known_pan_within_a_pixel_away_from_the_borders():
    a, b = pan(5, 3)
    # frame b at p shows what frame a showed at p + (5, 3)
    flow = optical_flow(b, a)[0, :, 16:-16, 16:-16]
    error = (flow - torch.tensor([5.0, 3.0])[:, None, None]).norm(dim=0)
    assert error.median() < 0.1
    assert (error < 1).float().mean() > 0.99


def test_warp_moves_an_image_by_a_known_flow_exactly():
    image = torch.rand(1, 3, 20, 30)
    flow = torch.zeros(1, 2, 20, 30)
    flow[:, 0], flow[:, 1] = 4, -2
    moved = warp(image, flow)
    # out(y, x) = image(y - 2, x + 4) wherever that lies inside
    assert torch.allclose(moved[..., 2:, :-4], image[..., :-2, 4:], atol=1e-5)
    seen = inside(flow)[0, 0]
    assert seen[2:, :-4].all() and not seen[:2].any() and not seen[:, -4:].any()


def test_the_consistency_check_masks_what_a_moving_disc_uncovers():
    photo, cup = image_path("mountain_landscape"), image_path("coffee")
    background = panned_clip(photo, 1, 160, step=(0, 0)).frames[0]
    before, now = panned_clip(photo, 2, 160, step=(0, 0), thing=cup, thing_step=(14, 0)).frames
    mask = reliable(optical_flow(before, now), optical_flow(now, before))[0, 0]
    shows = lambda frame: (frame - background).abs().sum(1)[0] < 1e-6  # noqa: E731
    uncovered = ~shows(before) & shows(now)  # background the disc hid a frame ago
    assert uncovered.sum() > 100
    assert mask[uncovered].mean() < 0.2
    moving = (~shows(before) | ~shows(now)).float()[None, None]
    far = torch.nn.functional.max_pool2d(moving, 25, stride=1, padding=12)[0, 0] == 0  # 12 px from the disc
    assert mask[far].mean() > 0.95


def test_long_term_masks_hold_each_pixel_to_the_nearest_frame_that_sees_it():
    c1, c2, c4 = (torch.tensor([[1.0, 0, 0, 1]]), torch.tensor([[1.0, 1, 0, 0]]), torch.tensor([[1.0, 1, 1, 0]]))
    out = long_term({4: c4, 1: c1, 2: c2})
    assert out[1].tolist() == [[1, 0, 0, 1]] and out[2].tolist() == [[0, 1, 0, 0]] and out[4].tolist() == [[0, 0, 1, 0]]


def test_temporal_loss_is_zero_on_its_target_and_has_no_gradient_outside_the_mask():
    target = torch.rand(1, 3, 8, 8)
    mask = (torch.rand(1, 1, 8, 8) > 0.5).float()
    loss = TemporalLoss(target, mask, weight=3.0)
    assert loss(target.clone()) == 0
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss(image).backward()
    expected = 3.0 * 255**2 * 2 * mask * (image.detach() - target) / image.numel()  # d/dx of the mean, by hand
    assert torch.allclose(image.grad, expected, rtol=1e-5)
    assert (image.grad * (1 - mask)).abs().max() == 0


def test_the_temporal_term_joins_the_augmented_model(tiny_net, content, style, small_config):
    held = {1: (content, torch.ones(1, 1, *content.shape[-2:]))}
    from_photo = replace(small_config, temporal_weight=5.0, init="content")
    model = nt.prepare(content, style, from_photo, net=tiny_net, temporal=held)
    model()
    assert model.losses()["temporal/1"] < 1e-9  # starts at the photo, the target (up to the pixel-space round trip)
    model = nt.prepare(content, style, from_photo, net=tiny_net,
                       temporal={1: (content.flip(-1), torch.ones(1, 1, *content.shape[-2:]))})
    model()
    by_hand = 5.0 * 255**2 * (content - content.flip(-1)).pow(2).mean()
    assert torch.allclose(model.losses()["temporal/1"], by_hand, rtol=1e-4)


def test_a_still_clip_starts_each_frame_from_the_last_result():
    frames = pan(0, 0, frames=2)
    painted = [torch.rand_like(frames[0])]
    start, temporal = temporal_inputs(frames[1], frames[:1], painted, (1,))
    assert torch.allclose(start, painted[0], atol=2e-3)
    assert temporal[1][1].mean() > 0.95


def test_stylize_video_holds_frames_steadier_than_independent_ones(net):
    clip = panned_clip(image_path("u_street_metro"), 3, 64, step=(2, 1))
    config = nt.Config(size=64, iterations=30, coarse_iterations=20, device="cpu", temporal_weight=50.0,
                       later_frame_iterations=10, tolerance=0.0)
    runs = {}
    for independent in (False, True):
        frames = list(nt.stylize_video(clip.frames, image_path("starry_night"), config, independent=independent,
                                       progress=False))
        assert [f.index for f in frames] == [0, 1, 2]
        runs[independent] = frames
    later = runs[False][1].result
    assert len(later.stages) == 1 and "temporal/1" in later.history  # full size only, held by the temporal loss
    assert later.stages[0].iterations == 10 and runs[True][1].result.stages[-1].iterations == 30  # the cap
    assert "temporal/1" not in runs[True][1].result.history
    assert torch.equal(runs[False][0].image, runs[True][0].image)  # the first frame is the same solve
    steady, alone = (sum(warping_errors([f.image for f in runs[k]], clip.frames)) for k in (False, True))
    assert steady < alone


def test_done_frames_are_given_back_and_the_next_frame_continues_from_them():
    clip = panned_clip(image_path("u_street_metro"), 3, 48, step=(2, 0))
    config = nt.Config(size=48, iterations=3, coarse_iterations=2, device="cpu")
    done = [torch.full_like(clip.frames[0], 0.5), torch.full_like(clip.frames[0], 0.25)]
    frames = list(nt.stylize_video(clip.frames, image_path("starry_night"), config, done=done, progress=False))
    assert [f.result is None for f in frames] == [True, True, False]
    assert torch.equal(frames[1].image, done[1])
    held = frames[2].result.model.temporal["1"].target  # the second done frame, warped: still grey 0.25
    assert torch.allclose(held, torch.full_like(held, 0.25), atol=1e-6)


def test_long_term_loss_and_colour_control_run_on_stylizes_path():
    clip = panned_clip(image_path("u_street_metro"), 3, 48, step=(2, 1))
    config = nt.Config(size=48, iterations=3, coarse_iterations=2, device="cpu", temporal_frames=(1, 2),
                       preserve_color="luminance")
    frames = list(nt.stylize_video(clip.frames, image_path("starry_night"), config, progress=False))
    assert "temporal/2" not in frames[1].result.history  # two frames back does not exist yet
    assert {"temporal/1", "temporal/2"} <= set(frames[2].result.history)
    model = frames[2].result.model
    masks = [model.temporal[k].mask for k in ("1", "2")]
    assert (masks[0] * masks[1]).max() == 0  # each pixel held to one earlier frame at most
    target = model.temporal["1"].target  # held in luminance, as the solve sees it
    assert torch.equal(target[:, 0], target[:, 1]) and torch.equal(target[:, 1], target[:, 2])


def test_flow_pictures_colour_direction_and_length():
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 0, :, :4] = 2.0  # right, full length
    flow[:, 1, :, 4:] = 1.0  # down, half length
    colours = plots.flow_colours(flow)
    assert colours[0, 0].tolist() == [1.0, 0.0, 0.0]  # hue 0: red
    assert abs(colours[0, 7].max() - 0.5) < 1e-6 and colours[0, 7].argmax() != 0  # half as bright, another hue
    fig = plots.show_flow(flow, step=2)
    assert fig.axes[0].collections  # the arrows
    mask = torch.ones(1, 1, 4, 8)
    mask[..., :2, :] = 0
    assert plots.show_mask(mask, torch.rand(1, 3, 4, 8)).axes[0].get_title() == "not trusted: 50.0% of pixels"


def run_video(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_tutorial", "video", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_clip_round_trips_through_the_command_keeping_its_rate_and_frame_count(tmp_path, suffix):
    clip = panned_clip(image_path("u_street_metro"), 4, 64, step=(2, 1))
    write_clip(clip.frames, tmp_path / f"in{suffix}", Fraction(10))
    proc = run_video(f"in{suffix}", "-s", str(image_path("starry_night")), "-o", f"out{suffix}", *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = read_clip(tmp_path / f"out{suffix}")
    assert len(out.frames) == 4 and out.fps == Fraction(10)
    assert max(out.frames[0].shape[-2:]) in (48, 49)  # --size 48 (H.264 repeats an odd row or column)
    assert sorted(p.name for p in (tmp_path / "out_frames").glob("*.png")) == [f"{i:05d}.png" for i in (1, 2, 3, 4)]
    assert "wrote" in proc.stdout and "first frame" in proc.stdout


def test_a_folder_of_frames_becomes_a_folder_of_painted_frames(tmp_path):
    write_clip(panned_clip(image_path("u_street_metro"), 3, 64).frames, tmp_path / "shots", Fraction(25),
               names=["shot_1.png", "shot_2.png", "shot_10.png"])
    proc = run_video("shots", "-s", str(image_path("starry_night")), *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(read_clip(tmp_path / "shots_painted").frames) == 3


def test_a_rerun_after_ctrl_c_continues_from_the_first_unfinished_frame(tmp_path):
    write_clip(panned_clip(image_path("u_street_metro"), 5, 64, step=(2, 1)).frames, tmp_path / "in.gif", Fraction(8))
    args = ["in.gif", "-s", str(image_path("starry_night")), "-o", "out.gif", "--size", "48", "-n", "60",
            "--tolerance", "0", "--coarse-iterations", "20", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "nst_tutorial", "video", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    frames = tmp_path / "out_frames"
    deadline = time.monotonic() + 240
    while not (frames / "00002.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = sorted(frames.glob("*.png"))
    assert 2 <= len(kept) < 5, "the run ended before or long after the signal: make the frames slower"
    assert f"stopped at frame {len(kept) + 1} of 5" in err.strip().splitlines()[-1]
    stamps = {p.name: p.stat().st_mtime_ns for p in kept}
    again = run_video(*args[:-1], cwd=tmp_path)  # without -q: it says where it continues
    assert again.returncode == 0, again.stderr
    assert f"continuing from frame {len(kept) + 1} of 5: {len(kept)} finished" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in kept} == stamps  # the finished frames were not painted again
    assert len(read_clip(tmp_path / "out.gif").frames) == 5


def test_another_runs_frames_are_not_mixed_in(tmp_path):
    write_clip(panned_clip(image_path("u_street_metro"), 2, 64).frames, tmp_path / "in.gif", Fraction(8))
    first = run_video("in.gif", "-s", str(image_path("starry_night")), "-o", "o.gif", *TINY, cwd=tmp_path)
    assert first.returncode == 0
    proc = run_video("in.gif", "-s", str(image_path("the_scream")), "-o", "o.gif", *TINY, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "nst-tutorial video: error: o_frames holds the frames of a run with other settings or inputs: "
        "remove it to start over, or choose another --output"]


def make_bad(tmp_path, kind: str) -> tuple[str, str]:
    """(input, what the error line says) for each kind of bad input."""
    if kind == "not a video":
        (tmp_path / "notes.mp4").write_text("not a video")
        return "notes.mp4", "not a video or GIF that can be read"
    if kind == "no frames":
        (tmp_path / "empty").mkdir()
        return "empty", "the clip has no frames"
    folder = tmp_path / "mixed"
    frames = panned_clip(image_path("u_street_metro"), 2, 64).frames
    write_clip(frames[:1], folder, Fraction(25), names=["a.png"])
    nt.save_image(frames[1][..., :40, :], folder / "b.png")
    return "mixed", "frames of different sizes, a.png is 48x64 but b.png is 48x40"


@pytest.mark.parametrize("kind", ["not a video", "no frames", "different sizes"])
def test_bad_inputs_get_one_line_and_exit_2(tmp_path, kind):
    source, says = make_bad(tmp_path, kind)
    proc = run_video(source, "-s", str(image_path("starry_night")), "-o", "out.gif", *TINY, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tutorial video: error:") and says in lines[0], lines


def test_an_unwritable_output_is_refused_before_any_work(tmp_path):
    write_clip(panned_clip(image_path("u_street_metro"), 2, 64).frames, tmp_path / "in.gif", Fraction(8))
    proc = run_video("in.gif", "-s", str(image_path("starry_night")), "-o", "missing/out.mp4", *TINY, cwd=tmp_path)
    assert proc.returncode == 2 and "the folder missing does not exist" in proc.stderr
    proc = run_video("in.gif", "-s", str(image_path("starry_night")), "-o", "out.avi", *TINY, cwd=tmp_path)
    assert proc.returncode == 2 and "write a video as .mp4" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]
