"""Widget logic driven from code: set a control, check the effect (no browser needed)."""

from __future__ import annotations

import datetime
import time

import numpy as np
import pytest
import torch
from PIL import Image

import nst_tutorial as nt
from nst_tutorial import plots, widgets
from nst_tutorial.data import image_path


@pytest.fixture(scope="module")
def grams(net):
    norm = nt.Normalizer()
    layers = nt.Config().style_layers
    style = nt.load_image(image_path("starry_night"), 48)
    content = nt.load_image(image_path("u_street_metro"), 48)
    return (nt.capture_style_targets(net, norm, [style], layers),
            nt.capture_style_targets(net, norm, [content], layers))


def test_gram_explorer_layer_and_channel_pickers_change_the_heatmaps(grams):
    targets, current = grams
    explorer = widgets.GramExplorer(targets, current)
    first_png = explorer.view.value
    assert explorer.heatmaps[0].get_array().shape == (64, 64)
    explorer.layer.value = "conv3_1"
    assert explorer.channels.max == 256 and explorer.channels.value == (0, 64)
    np.testing.assert_allclose(explorer.heatmaps[0].get_array(), targets["conv3_1"][0, :64, :64].numpy())
    np.testing.assert_allclose(explorer.heatmaps[2].get_array(),
                               (current["conv3_1"] - targets["conv3_1"])[0, :64, :64].numpy(), rtol=1e-5)
    explorer.channels.value = (100, 110)
    np.testing.assert_allclose(explorer.heatmaps[1].get_array(), current["conv3_1"][0, 100:110, 100:110].numpy())
    assert explorer.view.value != first_png
    assert "conv3_1: channels 100-109 of 256" in explorer.messages.value


def test_gram_explorer_shows_callback_errors_in_the_widget(grams):
    explorer = widgets.GramExplorer(*grams)
    explorer.channels.value = (5, 5)
    assert "Error" in explorer.messages.value and "at least one channel" in explorer.messages.value


def test_live_solve_updates_artists_in_place():
    cfg = nt.Config(size=32, iterations=4)
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
    app = widgets.Evaluator(nt.Config(size=48, iterations=1000))
    app.run_button.click()
    assert app.running and app.stop_button.disabled is False and app.run_button.disabled is True
    assert wait_for(lambda: app.result is not None and len(app.result.total) >= 3, 60), app.messages.value
    app.stop_button.click()
    stopped_at = time.monotonic()
    app.thread.join(timeout=10)
    assert not app.running and time.monotonic() - stopped_at < 5
    assert app.result.stopped and 3 <= app.result.iterations[-1] < 1000
    assert app.result.best_loss == min(app.result.total) and torch.isfinite(app.result.image).all()
    assert "stopped after" in app.messages.value and app.run_button.disabled is False
    app.save_path.value = str(tmp_path / "evaluated.png")
    app.save_button.click()
    assert Image.open(tmp_path / "evaluated.png").size == (36, 48)
    assert "saved" in app.messages.value


def test_evaluator_settings_follow_the_controls():
    app = widgets.Evaluator()
    app.layers["conv5_1"].value = False
    app.layers["conv2_2"].value = True
    app.layer_weights["conv2_2"].value = 0.5
    app.optimizer.value = "adam"
    app.event_gate.value = False
    cfg = app.settings()
    assert cfg.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv2_2")
    assert cfg.style_layer_weights[-1] == 0.5 and cfg.optimizer == "adam" and cfg.event_gate is False


def upload(app_widget, name: str, data: bytes) -> None:
    app_widget.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_bad_upload_shows_message_and_changes_nothing():
    app = widgets.Evaluator()
    before = (app.content.value, list(app.content.options), dict(app.uploads))
    upload(app.content_upload, "notes.txt", b"definitely not an image")
    assert "not an image" in app.messages.value and "Error" in app.messages.value
    assert (app.content.value, list(app.content.options), dict(app.uploads)) == before


def test_too_large_upload_is_refused(monkeypatch):
    app = widgets.Evaluator()
    monkeypatch.setattr(widgets, "MAX_UPLOAD_BYTES", 10)
    upload(app.style_upload, "big.png", b"x" * 11)
    assert "limit" in app.messages.value and app.style.value == "starry_night.jpg"


def test_good_upload_becomes_the_selected_image(tmp_path):
    app = widgets.Evaluator()
    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), "red").save(path)
    upload(app.style_upload, "red.png", path.read_bytes())
    assert app.style.value == "upload: red.png" and "upload: red.png" in app.content.options
    assert torch.allclose(nt.load_image(app.source(app.style.value))[0, :, 0, 0], torch.tensor([1.0, 0, 0]))


def test_save_before_run_says_so():
    app = widgets.Evaluator()
    app.save_button.click()
    assert "press Run first" in app.messages.value


def test_plot_helpers_return_what_they_drew():
    history = {"style/conv1_1": [3.0, 2.0, 1.0], "total": [4.0, 2.5, 1.2]}
    ax = plots.plot_losses(history).axes[0]
    assert ax.get_yscale() == "log" and [l.get_label() for l in ax.get_lines()] == list(history)
    fig = plots.show_images({"a": torch.rand(1, 3, 8, 8), "b": torch.rand(1, 3, 8, 8)})
    assert [a.get_title() for a in fig.axes] == ["a", "b"]
    fig = plots.draw_augmented_model(nt.Config())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.startswith("GRAM") for t in texts) == 5 and sum(t == "EVENT" for t in texts) == 6
    assert any(t.startswith("PARAMETER input1") for t in texts) and any(t.startswith("SCALAR") for t in texts)
