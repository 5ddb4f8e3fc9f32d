"""Widget logic driven from code: set a control, check the effect (no browser needed)."""

from __future__ import annotations

import datetime
import io
import time
from dataclasses import replace

import ipywidgets as W
import numpy as np
import pytest
import torch
from PIL import Image

import nst_tutorial as nt
from nst_tutorial import plots
from nst_tutorial import widgets
from nst_tutorial.widgets import evaluator
from nst_tutorial.data import image_path
from nst_tutorial.widgets import Evaluator


@pytest.fixture(scope="module")
def grams(tiny_net):
    net = tiny_net
    norm = nt.Normalizer()
    cfg = nt.Config()
    style = nt.load_image(image_path("starry_night"), 48)
    content = nt.load_image(image_path("u_street_metro"), 48)
    return (nt.capture_style_targets(net, norm, [style], cfg),
            nt.capture_style_targets(net, norm, [content], cfg))


def test_gram_explorer_layer_and_channel_pickers_change_the_heatmaps(grams):
    targets, current = grams
    explorer = widgets.GramExplorer(targets, current, window=3)
    first_png = explorer.view.value
    assert explorer.heatmaps[0].get_array().shape == (3, 3)
    explorer.layer.value = "conv3_1"
    assert explorer.channels.max == 7 and explorer.channels.value == (0, 2)  # first and last shown, both in
    np.testing.assert_allclose(explorer.heatmaps[0].get_array(), targets["conv3_1"][0, :3, :3].numpy())
    np.testing.assert_allclose(explorer.heatmaps[2].get_array(),
                               (current["conv3_1"] - targets["conv3_1"])[0, :3, :3].numpy(), rtol=1e-5)
    explorer.channels.value = (2, 6)
    np.testing.assert_allclose(explorer.heatmaps[1].get_array(), current["conv3_1"][0, 2:7, 2:7].numpy())
    assert explorer.view.value != first_png
    assert "conv3_1: channels 2-6 of 8" in explorer.messages.value


def test_gram_explorer_handles_together_show_one_channel_and_a_new_layer_is_drawn(grams):
    targets, current = grams
    explorer = widgets.GramExplorer(targets, current)
    explorer.channels.value = (2, 2)  # the upper handle dragged onto the lower one
    assert explorer.heatmaps[0].get_array().shape == (1, 1) and "Error" not in explorer.messages.value
    assert "channel 2 of" in explorer.messages.value
    explorer.layer.value = "conv5_1"
    assert explorer.heatmaps[0].axes.get_title() == "style target conv5_1"
    np.testing.assert_allclose(explorer.heatmaps[0].get_array(), targets["conv5_1"][0, 2:3, 2:3].numpy())
    assert "conv5_1" in explorer.messages.value and "Error" not in explorer.messages.value


def test_live_solve_updates_artists_in_place():
    cfg = nt.Config(size=32, iterations=4, scales=(1.0,))
    model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
    live = widgets.LiveSolve(every=0.0)
    result = live.run(model, cfg)
    picture, total = live.picture, live.lines["total"]
    assert list(total.get_xdata()) == [1, 2, 3, 4] and list(total.get_ydata()) == result.total
    live.run(model, cfg, iterations=2, result=result)
    assert live.picture is picture and live.lines["total"] is total  # same artists, new data
    assert list(total.get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert "iteration <b>6</b>" in live.readout.value


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_evaluator_run_stop_save(tmp_path):
    app = Evaluator(nt.Config(size=48, iterations=1000, scales=(1.0,), tolerance=0.0))  # runs until Stop
    control = app.controller
    app.run_button.click()
    assert control.running and app.stop_button.disabled is False and app.run_button.disabled is True
    assert wait_for(lambda: control.result is not None and len(control.result.total) >= 3, 60), app.messages.value
    app.stop_button.click()
    stopped_at = time.monotonic()
    control.thread.join(timeout=10)
    assert not control.running and time.monotonic() - stopped_at < 5
    result = control.result
    assert result.stopped and 3 <= result.iterations[-1] < 1000
    assert result.best_loss == min(result.total) and torch.isfinite(result.image).all()
    assert "stopped after" in app.messages.value and app.run_button.disabled is False
    app.save_path.value = str(tmp_path / "evaluated.png")
    app.save_button.click()
    assert Image.open(tmp_path / "evaluated.png").size == (36, 48)
    assert "saved" in app.messages.value and "stopped after" in app.messages.value  # the run's line stays


def test_evaluator_stop_in_a_coarse_stage_keeps_a_full_size_image():
    app = Evaluator(nt.Config(size=64, iterations=5, coarse_iterations=1000, scales=(0.5, 1.0), tolerance=0.0))
    control = app.controller
    app.run_button.click()
    assert wait_for(lambda: control.result is not None and len(control.result.total) >= 2, 60), app.messages.value
    app.stop_button.click()
    control.thread.join(timeout=10)
    result = control.result
    assert result.stopped and result.image.shape[-2:] == (64, 48)
    assert [(s.height, s.iterations) for s in result.stages][-1] == (64, 0)
    assert result.stages[0].height == 32 and result.stages[0].iterations >= 2
    assert "stopped in the 32 px stage" in app.messages.value and "inf" not in app.messages.value


def test_evaluator_settings_follow_the_controls():
    app = Evaluator()
    app.layers["conv5_1"].value = False
    app.layers["conv2_2"].value = True
    app.layer_weights["conv2_2"].value = 0.5
    app.optimizer.value = "adam"
    app.event_gate.value = False
    app.stages.value = (0.5, 1.0)
    assert app.settings(app.controller.config).preserve_color is None and app.colours.label == "painting's"
    app.colours.value = "luminance"
    cfg = app.settings(app.controller.config)
    assert cfg.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv2_2")
    assert cfg.style_layer_weights[-1] == 0.5 and cfg.optimizer == "adam" and cfg.event_gate is False
    assert cfg.scales == (0.5, 1.0) and cfg.preserve_color == "luminance"
    assert replace(Evaluator().settings(app.controller.config), size=256) == nt.Config()  # the default, at 192 px


def upload(app_widget, name: str, data: bytes) -> None:
    app_widget.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def control_values(app) -> dict:
    """Every control's value, by attribute name (`layers.conv1_1` for those kept in dicts)."""
    controls = {}
    for name, value in vars(app).items():
        items = {f"{name}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {name: value}
        controls.update((k, w) for k, w in items.items() if isinstance(w, W.ValueWidget)
                        and not isinstance(w, (W.FileUpload, W.HTML, W.Image)))  # controls, not what they show
    return {name: widget.value for name, widget in controls.items()}


def test_bad_upload_shows_message_and_changes_nothing():
    app = Evaluator()
    before = (control_values(app), list(app.content.options), dict(app.controller.uploads))
    upload(app.content_upload, "notes.txt", b"definitely not an image")
    assert "notes.txt: not an image" in app.messages.value and "Error" in app.messages.value
    assert "Error" not in app.messages.value.replace("Error:</b>", "")  # no Python class name (ImageLoadError)
    assert (control_values(app), list(app.content.options), dict(app.controller.uploads)) == before
    assert app.content_upload.value == ()  # the button counts no file as taken
    app.messages.info("something else")
    upload(app.content_upload, "notes.txt", b"definitely not an image")  # the same file again
    assert "notes.txt: not an image" in app.messages.value


def test_too_large_upload_is_refused(monkeypatch):
    app = Evaluator()
    monkeypatch.setattr(evaluator, "MAX_UPLOAD_BYTES", 10)
    upload(app.style_upload, "big.png", b"x" * 11)
    assert "limit" in app.messages.value and app.style.value == "starry_night.jpg"


@pytest.mark.parametrize("which", ["content", "style"])
def test_good_upload_selects_it_and_leaves_every_other_control_alone(tmp_path, which):
    app = Evaluator()
    app.content.value, app.style.value = "coffee.jpg", "the_scream.jpg"
    app.size.value, app.layers["conv5_1"].value = 128, False
    before = control_values(app)
    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), "red").save(path)
    upload(getattr(app, f"{which}_upload"), "red.png", path.read_bytes())
    after = control_values(app)
    assert after.pop(which) == "upload: red.png"
    before.pop(which)
    assert after == before  # the other picker still shows coffee / the scream; size and layers kept
    assert "upload: red.png" in app.content.options and "upload: red.png" in app.style.options
    source = app.controller.source(getattr(app, which).value)
    assert torch.allclose(nt.load_image(source)[0, :, 0, 0], torch.tensor([1.0, 0, 0]))


def test_save_before_run_says_so():
    app = Evaluator()
    app.save_button.click()
    assert "press Run first" in app.messages.value


def test_plot_helpers_return_what_they_drew():
    history = {"style/conv1_1": [3.0, 2.0, 1.0], "total": [4.0, 2.5, 1.2]}
    ax = plots.plot_losses(history).axes[0]
    assert ax.get_yscale() == "log" and [line.get_label() for line in ax.get_lines()] == list(history)
    fig = plots.show_images({"a": torch.rand(1, 3, 8, 8), "b": torch.rand(1, 3, 8, 8)})
    assert [a.get_title() for a in fig.axes] == ["a", "b"]
    fig = plots.draw_augmented_model(nt.Config(content_weight=0.7))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.startswith("GRAM") for t in texts) == 5 and sum(t == "EVENT" for t in texts) == 6
    assert any(t.startswith("PARAMETER input1") for t in texts) and not any(t.startswith("SCALAR") for t in texts)
    assert "EUCLIDEAN_LOSS\nx0.7" in texts  # the content loss's weight, the one given, not the default
    # MyCaffe's content branch: SCALAR, then EVENT, left to right on the conv4_2 row
    boxes = [(t.get_text(), *t.get_position()) for t in plots.draw_augmented_model(nt.Config.mycaffe()).axes[0].texts]
    (x_scalar, row), = [(x, y) for text, x, y in boxes if text == "SCALAR\nx0.0001"]
    (x_event,) = [x for text, x, y in boxes if text == "EVENT" and y == row]
    assert x_scalar < x_event
    assert not any(t.get_text() == "EVENT" for t in plots.draw_augmented_model(
        nt.Config(event_gate=False)).axes[0].texts)


def test_live_view_keeps_one_colour_per_term_across_runs_and_its_legend_clear_of_the_top():
    cfg = nt.Config(size=32, iterations=2, scales=(1.0,))
    live = widgets.LiveSolve(every=0.0)
    live.run(nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg), cfg)
    first = {name: line.get_color() for name, line in live.lines.items()}
    live.reset()
    live.run(nt.prepare(image_path("u_street_metro"), image_path("starry_night"), replace(cfg, event_gate=False)), cfg)
    assert {name: line.get_color() for name, line in live.lines.items()} == first
    assert len(set(first.values())) == len(first)  # and no two terms alike
    legend = live.view.axes[0].get_legend()
    assert legend._loc == 3  # lower left: the curves fall from the top left, stage labels sit at the top


def test_a_gallery_shows_every_picture_that_succeeded_and_marks_the_one_that_failed():
    from concurrent.futures import ThreadPoolExecutor

    from nst_tutorial.plots import gallery

    cfg = nt.Config(size=32, iterations=2, scales=(1.0,))
    variants = {"plain": cfg, "missing painting": ("no_such_painting.jpg", cfg),
                "no gate": replace(cfg, event_gate=False)}
    with ThreadPoolExecutor(1) as threads:
        results = gallery.run_gallery(image_path("u_street_metro"), image_path("starry_night"), variants, threads,
                                      score=False)
    assert list(results) == list(variants)
    assert results["plain"].ok and results["no gate"].ok and "no_such_painting" in results["missing painting"].error
    fig = gallery.plot_gallery(results, ncols=3)
    tiles = fig.axes[:3]
    assert [ax.get_title() for ax in tiles] == list(variants)
    assert len(tiles[0].get_images()) == 1 and len(tiles[2].get_images()) == 1 and not tiles[1].get_images()
    assert "failed" in tiles[1].texts[0].get_text() and "no_such_painting" in tiles[1].texts[0].get_text()


def test_gram_heatmaps_share_one_log_scale_and_label_both_axes():
    from matplotlib.colors import SymLogNorm

    g = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0)) ** 4 * 300
    target, current, diff = plots.gram_heatmaps(g, g * 0.9, channels=(0, 16))
    assert all(isinstance(image.norm, SymLogNorm) for image in (target, current, diff))
    assert (target.norm.vmin, target.norm.vmax) == (current.norm.vmin, current.norm.vmax)  # equal looks equal
    assert diff.norm.vmin == -diff.norm.vmax
    assert target.axes.get_xlabel() == target.axes.get_ylabel() == "channel"


def test_the_evaluator_previews_what_each_picker_chose():
    app = Evaluator()
    content = app.previews["content"].value
    assert content and app.previews["style 2"].layout.visibility == "hidden"  # no second painting yet
    app.content.value = "coffee.jpg"
    assert app.previews["content"].value != content
    app.style2.value = "the_scream.jpg"
    assert app.previews["style 2"].value and app.previews["style 2"].layout.visibility == "visible"
    assert Image.open(io.BytesIO(app.previews["style 2"].value)).size[1] <= 96
