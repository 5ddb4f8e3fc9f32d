"""Controls of Gatys et al. 2016 and 2017: the photo's colours, regions, and scale, against known answers."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2yiq

import nst_tutorial as nt
from nst_tutorial.control import colour, regions
from nst_tutorial.data import image_path
from nst_tutorial.widgets import Evaluator
from nst_tutorial.widgets import MaskPainter
from nst_tutorial.widgets.painter import photo_pixels


def test_yiq_is_scikit_images_and_inverts():
    x = torch.rand(1, 3, 5, 7, dtype=torch.float64)
    reference = torch.from_numpy(rgb2yiq(x[0].permute(1, 2, 0).numpy())).permute(2, 0, 1)[None]
    assert torch.allclose(colour.to_yiq(x), reference, atol=1e-6)
    assert torch.allclose(colour.from_yiq(colour.to_yiq(x)), x, atol=1e-12)


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance(method):
    g = torch.Generator().manual_seed(0)
    style = torch.rand(1, 3, 20, 30, generator=g) * 0.4 + 0.1
    content = torch.rand(1, 3, 16, 16, generator=g) * 0.3 + 0.4
    mapped = colour.match_histogram(style, content, method, clamp=False)
    (mm, cm), (mc, cc) = colour.colour_stats(mapped), colour.colour_stats(content)
    assert torch.allclose(mm, mc, atol=1e-6) and torch.allclose(cm, cc, atol=1e-6)


def test_the_two_matchings_differ_but_agree_on_statistics():
    g = torch.Generator().manual_seed(1)
    style, content = torch.rand(1, 3, 9, 9, generator=g), torch.rand(1, 3, 9, 9, generator=g)
    a, b = (colour.match_histogram(style, content, m, clamp=False) for m in ("eigen", "cholesky"))
    assert not torch.allclose(a, b, atol=1e-3)


def test_luminance_only_transfer_keeps_the_photos_chroma_exactly():
    cfg = nt.Config(size=48, iterations=5, coarse_iterations=2, scales=(0.5, 1.0), preserve_color="luminance")
    result = nt.stylize(image_path("u_street_metro"), image_path("starry_night"), cfg, progress=False)
    photo = nt.load_image(image_path("u_street_metro"), 48)
    iq_result, iq_photo = colour.to_yiq(result.image)[:, 1:], colour.to_yiq(photo)[:, 1:]
    inside = ((result.image > 0.01) & (result.image < 0.99)).all(dim=1, keepdim=True)  # away from clipping
    assert (iq_result - iq_photo).abs().masked_select(inside.expand_as(iq_photo)).max() < 1e-5
    assert (colour.luminance(result.image) - colour.luminance(photo)).abs().mean() > 0.02  # the luminance moved


def test_matched_luminance_has_the_contents_mean_and_spread():
    style, content = nt.load_image(image_path("starry_night"), 64), nt.load_image(image_path("coffee"), 64)
    y = colour.match_luminance(style, content)
    yc = colour.luminance(content)
    assert torch.isclose(y.mean(), yc.mean(), atol=1e-6) and torch.isclose(y.std(), yc.std(), rtol=1e-5)


def test_scale_control_takes_each_layers_target_from_its_own_style(tiny_net, content, style):
    norm = nt.Normalizer()
    other = nt.load_image(image_path("the_scream"), 64)
    cfg = nt.Config(style_layers=("conv1_1", "conv2_1", "conv3_1"), style_layer_weights=(1.0, 1.0, 1.0))
    mixed = nt.capture_style_targets(tiny_net, norm, [style, other], replace(cfg, style_layer_sources=(0, 0, 1)))
    a = nt.capture_style_targets(tiny_net, norm, [style], cfg)
    b = nt.capture_style_targets(tiny_net, norm, [other], cfg)
    assert torch.equal(mixed["conv1_1"], a["conv1_1"]) and torch.equal(mixed["conv2_1"], a["conv2_1"])
    assert torch.equal(mixed["conv3_1"], b["conv3_1"])
    with pytest.raises(nt.ConfigError, match="style 2"):
        nt.capture_style_targets(tiny_net, norm, [style], replace(cfg, style_layer_sources=(0, 0, 2)))


def test_guided_gram_is_the_gram_of_the_region_alone():
    f = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    mask[..., :3, :4] = 1  # a 3x4 region
    inside = f[..., :3, :4]
    assert torch.allclose(nt.gram(f, masks=mask), nt.gram(inside))
    halves = torch.cat([mask, 1 - mask])
    assert nt.gram(f, masks=halves).shape == (2, 4, 4)


def test_label_colours_go_to_styles_in_reading_order():
    labels = torch.zeros(1, 3, 4, 4)
    labels[0, 2, :, :] = 1.0  # blue everywhere ...
    labels[0, :, 0, 0] = torch.tensor([1.0, 0, 0])  # ... but red comes first, reading rows from the top left
    masks, colours = regions.masks_from_labels(labels, 2)
    assert colours == ["#ff0000", "#0000ff"] and masks[0].sum() == 1 and masks[1].sum() == 15
    with pytest.raises(nt.ImageLoadError, match="3 colours but there are 2 styles"):
        labels[0, :, 3, 3] = 0.5
        regions.masks_from_labels(labels, 2)


def test_regions_pull_each_region_towards_its_own_painting():
    """Swap which painting each half gets: each half's colour follows its own painting."""
    h, w = 64, 48
    halves = regions.bands(h, w, 2)
    cfg = nt.Config(size=64, iterations=30, scales=(1.0,), content_weight=0.02)
    styles = [image_path("starry_night"), image_path("the_scream")]
    starry, scream = (nt.load_image(s, 64).mean(dim=(2, 3)) for s in styles)
    distance = {}
    for order, masks in (("as given", halves), ("swapped", halves.flip(0))):
        image = nt.stylize(image_path("u_street_metro"), styles, cfg, progress=False, masks=masks).image
        top, bottom = image[..., : h // 2, :].mean(dim=(2, 3)), image[..., h // 2:, :].mean(dim=(2, 3))
        distance[order] = ((top - starry).norm(), (bottom - scream).norm())
    assert distance["as given"][0] < distance["swapped"][0]  # the top is nearer The Starry Night when it gets it
    assert distance["as given"][1] < distance["swapped"][1]  # and the bottom nearer The Scream


def drag(painter: MaskPainter, points) -> None:
    layer = painter.canvas[1]
    for event, (x, y) in [("mouse_down", points[0])] + [("mouse_move", p) for p in points[1:]] + \
            [("mouse_up", points[-1])]:
        layer._handle_frontend_event(None, {"event": event, "x": x, "y": y}, None)


def test_painter_masks_follow_the_strokes_with_undo_and_clear():
    painter = MaskPainter(image_path("u_street_metro"), ["a", "b"], width=64)
    drag(painter, [(5, 5), (40, 5)])
    with pytest.raises(nt.NSTError, match="paint a region for b first"):
        painter.check()
    painter.style.value, painter.brush.value = 1, 10
    drag(painter, [(5, 50), (40, 50)])
    masks = painter.check()
    assert masks.shape == (2, 1, 64, 48) and masks[0, 0, 5, 20] == 1 and masks[1, 0, 50, 20] == 1
    assert masks[0, 0, 50, 20] == 0 and not (masks.sum(dim=0) > 1).any()
    painter.undo_button.click()
    assert painter.model.unpainted() == [1]
    painter.clear_button.click()
    assert painter.model.unpainted() == [0, 1]


def test_evaluator_runs_with_painted_regions_and_refuses_without_them():
    app = Evaluator(nt.Config(size=48, iterations=3, coarse_iterations=1))
    app.style2.value = "the_scream.jpg"
    app.regions.value = True
    painter = app.controller.painter
    assert painter is not None and app.painter_box.children == (painter,)
    app.run_button.click()
    assert "paint a region for starry_night.jpg, the_scream.jpg first" in app.messages.value
    assert not app.controller.running
    drag(painter, [(5, 5), (60, 5)])
    painter.style.value = 1
    drag(painter, [(5, 120), (60, 120)])
    app.run_button.click()
    app.controller.thread.join(timeout=60)
    assert "finished after" in app.messages.value, app.messages.value
    assert app.controller.result.image.shape[-2:] == (48, 36)


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_tutorial", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("masks, message", [
    (["labels3.png"], "3 colours but there are 2 styles"),
    (["top.png", "empty.png"], "the region of the_scream.jpg has no pixels"),
    (["notes.txt"], "not an image"),
    (["top.png", "top.png", "top.png"], "3 masks for 2 styles"),
])
def test_bad_masks_exit_2_with_one_line_and_write_nothing(tmp_path, masks, message):
    labels = Image.new("RGB", (48, 64), "red")
    labels.paste((0, 0, 255), (0, 20, 48, 40))
    labels.paste((0, 255, 0), (0, 40, 48, 64))
    labels.save(tmp_path / "labels3.png")
    top = Image.new("L", (48, 64), 0)
    top.paste(255, (0, 0, 48, 32))
    top.save(tmp_path / "top.png")
    Image.new("L", (48, 64), 0).save(tmp_path / "empty.png")
    (tmp_path / "notes.txt").write_text("no image")
    before = set(tmp_path.iterdir())
    proc = run_cli("-s", "starry_night", "the_scream", "--mask", *masks, "--size", "64", "-n", "1", "-o", "o.png",
                   cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and set(tmp_path.iterdir()) == before


def test_label_image_of_another_size_is_resized_with_a_note_and_its_colours_named(tmp_path):
    labels = Image.new("RGB", (30, 40), "yellow")
    labels.paste((0, 128, 0), (0, 20, 30, 40))
    labels.save(tmp_path / "labels.png")
    proc = run_cli("-s", "starry_night", "the_scream", "--mask", "labels.png", "--size", "64", "-n", "2",
                   "--coarse-iterations", "1", "-o", "o.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "note: the label image (30x40) was resized to the content's 48x64 (nearest)" in proc.stderr
    assert "label colour #ffff00 -> starry_night.jpg" in proc.stderr
    assert "label colour #008000 -> the_scream.jpg" in proc.stderr
    assert (tmp_path / "o.png").is_file()


def test_cli_colour_and_scale_options_reach_the_config():
    from nst_tutorial.cli.options import config_from_args
    from nst_tutorial.cli.paint import build_parser

    cfg = config_from_args(build_parser().parse_args(["--preserve-color", "histogram", "--color-match", "cholesky",
                                                      "--layer-styles", "1,1,2,2,2"]))
    assert (cfg.preserve_color, cfg.color_match, cfg.style_layer_sources) == ("histogram", "cholesky",
                                                                             (0, 0, 1, 1, 1))
    assert np.all(np.array(cfg.style_layer_sources) >= 0)


def test_frechet_lab_of_two_flat_colours_is_their_squared_lab_distance():
    from skimage.color import rgb2lab

    from nst_tutorial.judge.controls import frechet_lab

    a, b = torch.tensor([0.8, 0.2, 0.1]), torch.tensor([0.1, 0.5, 0.9])
    flat = [c.view(1, 3, 1, 1).expand(1, 3, 8, 8) for c in (a, b)]
    lab = [rgb2lab(c.numpy()[None, None].astype(np.float64))[0, 0] for c in (a, b)]
    assert frechet_lab(*flat) == pytest.approx(float(((lab[0] - lab[1]) ** 2).sum()), rel=1e-6)
    assert frechet_lab(flat[0], flat[0]) == pytest.approx(0.0, abs=1e-9)


def test_region_measure_finds_each_painting_in_its_own_half():
    from nst_tutorial.judge.controls import Measure

    a, b = (nt.load_image(image_path(n), 64)[..., :32, :48] for n in ("starry_night", "the_scream"))
    collage = torch.cat([a, b], dim=2)  # The Starry Night above, The Scream below
    losses = Measure().regions(collage, regions.bands(64, 48, 2), [image_path("starry_night"),
                                                                   image_path("the_scream")])
    assert losses[0, 0] < losses[0, 1] and losses[1, 1] < losses[1, 0]


def test_a_mask_tensor_with_the_wrong_number_of_regions_is_refused():
    with pytest.raises(nt.ImageLoadError, match="3 masks for 2 styles"):
        regions.load_masks(torch.ones(3, 1, 8, 8), 2, (8, 8))


def test_the_painter_draws_the_photo_and_its_strokes_again_for_a_new_view(monkeypatch):
    """A reloaded page gets blank layers, made while the kernel's drawing commands may still be
    lost: each layer's pixels are in its state (which a layer draws when it is made), and the
    stroke layer also replays the strokes when its view is ready."""
    painter = MaskPainter(image_path("u_street_metro"), ["a", "b"], width=64)
    photo, strokes = painter.canvas._canvases
    state = np.asarray(Image.open(io.BytesIO(photo.image_data)))
    assert state.shape == (64, 48, 3) and (state == photo_pixels(image_path("u_street_metro"), 64)).all()
    assert strokes.sync_image_data and not photo.sync_image_data  # the page sends the strokes back
    painter._down(10, 10)
    painter._move(30, 20)
    painter._up(30, 20)
    drawn: list[str] = []
    monkeypatch.setattr(strokes, "stroke_line", lambda *points: drawn.append(f"stroke {points}"))
    monkeypatch.setattr(strokes, "fill_circle", lambda *circle: drawn.append(f"dab {circle}"))
    strokes._handle_frontend_event(None, {"event": "client_ready"}, None)
    assert drawn == ["dab (10, 10, 2.0)", "stroke (10, 10, 30, 20)"]
    assert strokes.stroke_style == "rgba(230, 25, 75, 0.55)"  # translucent by its colour, PALETTE[0]


def test_after_a_new_page_the_painters_next_command_names_its_canvas(monkeypatch):
    """ipycanvas' kernel side names a canvas only when it changes; a reloaded page knows none, and a
    command without one fails there and stops every later one (ipycanvas issue #322)."""
    from ipycanvas.canvas import COMMANDS

    painter = MaskPainter(image_path("u_street_metro"), ["a", "b"], width=64)
    photo, strokes = painter.canvas._canvases
    painter._down(10, 10)  # the kernel's side now remembers the stroke layer
    sent: list = []
    monkeypatch.setattr(painter.canvas._canvas_manager, "_send_custom",
                        lambda command, buffers=(): sent.append(command))
    switch = [COMMANDS["switchCanvas"], [f"IPY_MODEL_{strokes.model_id}"]]
    painter._move(20, 20)  # the same page: no need to name the canvas again
    assert sent and switch not in sent and not any(switch in c for c in sent if isinstance(c[0], list))
    sent.clear()
    photo._handle_frontend_event(None, {"event": "client_ready"}, None)  # a reloaded page
    assert sent == []  # nothing for the stroke layer, which may not exist in that page yet
    painter._move(30, 30)
    assert sent[0] == switch or sent[0][0] == switch


def test_renaming_the_painters_styles_keeps_the_strokes():
    painter = MaskPainter(image_path("u_street_metro"), ["a", "b"], width=64)
    painter.style.value = 1
    painter._down(10, 10)
    painter._up(10, 10)
    before = painter.model.labels().copy()
    painter.rename(["starry night", "the scream"])
    assert [label for label, _ in painter.style.options] == ["starry night", "the scream"]
    assert painter.style.value == 1 and "the scream" in painter.legend.value and "> a<" not in painter.legend.value
    assert (painter.model.labels() == before).all() and (before == 1).any()


def test_the_scale_verdict_says_what_the_numbers_say():
    from nst_tutorial.judge.controls import scale_verdict

    blend = {"low layers vs A": 2695.0, "low layers vs B": 2709.0, "high layers vs A": 130707.0,
             "high layers vs B": 77718.0}
    split = {"low layers vs A": 3066.0, "low layers vs B": 2648.0, "high layers vs A": 340048.0,
             "high layers vs B": 7613.0}
    assert scale_verdict(split, blend) == ("low layers: farther from A than the blend (3,066 against 2,695); "
                                           "high layers: closer to B than the blend (7,613 against 77,718)")
    assert scale_verdict(blend, split).startswith("low layers: closer to A")


def test_regions_with_another_style_loss_are_refused_before_any_work():
    masks = regions.bands(64, 48, 2)
    cfg = nt.Config(size=64, iterations=1, style_loss="linear", style_weight=250.0)
    with pytest.raises(nt.ConfigError, match="regions work with the Gram style loss"):
        nt.load_inputs(image_path("u_street_metro"), [image_path("starry_night"), image_path("the_scream")], cfg,
                       masks)


def test_a_region_loss_carries_its_masks_with_it():
    target = torch.rand(2, 4, 4)
    module = nt.StyleLoss(target, 1.0, masks=regions.bands(8, 8, 2))
    module.double()  # as .to(device) would, a buffer follows the module
    assert module.masks is not None and module.masks.dtype == torch.float64
    features = torch.rand(1, 4, 8, 8, dtype=torch.float64)
    module(features)
    assert torch.isclose(module.loss, ((nt.gram(features, masks=module.masks) - module.target) ** 2)
                         .flatten(1).mean(1).sum())
