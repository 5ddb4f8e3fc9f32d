"""`stylize`: one solve path for the CLI, the library and the Evaluator; one trip through the code."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import nst_tutorial as nt
from nst_tutorial import cli, images, stages
from nst_tutorial.cli import paint
from nst_tutorial.data import CONTENT, STYLE, image_path
from nst_tutorial.widgets import Evaluator


def test_cli_library_and_evaluator_give_the_same_solve(tmp_path):
    cfg = nt.Config(size=48, iterations=4, coarse_iterations=3, scales=(0.5, 1.0))
    library = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False)
    args = paint.build_parser().parse_args(["--size", "48", "-n", "4", "--coarse-iterations", "3", "--scales", "0.5,1",
                                          "-q", "-o", str(tmp_path / "out.png")])
    command_line = paint.run(args, paint.job_from_args(args))
    app = Evaluator(cfg)
    app.controller.work(app.settings(cfg))  # what Run does, in this thread
    evaluator = app.controller.result
    for result in (command_line, evaluator):
        assert [(s.height, s.width, s.start, s.iterations) for s in result.stages] == \
               [(24, 18, 0, 3), (48, 36, 3, 4)]
        assert result.iterations == library.iterations == list(range(1, 8))
        assert result.total[-1] == library.total[-1]
        assert torch.equal(result.image, library.image)


def test_stop_in_a_coarse_stage_returns_a_full_size_image_that_continues_at_full_size():
    cfg = nt.Config(size=64, iterations=5, coarse_iterations=50, scales=(0.5, 1.0))
    result = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False,
                        callback=lambda r, current: r.iterations[-1] == 3 and _raise(KeyboardInterrupt))
    assert result.stopped and result.iterations == [1, 2, 3]
    assert result.image.shape[-2:] == (64, 48) and result.model.image.shape[-2:] == (64, 48)
    assert list(result.model.net.named_children())[-1][0] == "content_conv4_2"  # the full-size stage it would run
    assert [(s.height, s.iterations) for s in result.stages] == [(32, 3), (64, 0)]
    assert result.summary() == (f"3 iterations (none at full size: stopped in the 32 px stage, its picture resized "
                                f"up), loss {result.total[-1]:.4g}")  # not a best loss of inf
    again = nt.solve(result.model, cfg, result=result, iterations=2, progress=False)
    assert again.iterations == [1, 2, 3, 4, 5] and again.stages[-1].iterations == 2


def test_a_result_of_another_model_is_refused():
    cfg = nt.Config(size=32, iterations=1, scales=(1.0,))
    first = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False)
    other = nt.prepare(image_path(CONTENT), image_path(STYLE), cfg)
    with pytest.raises(nt.ConfigError, match="another model"):
        nt.solve(other, cfg, result=first, progress=False)


def test_each_input_image_is_decoded_once(monkeypatch):
    opened = []
    real = images.open_image
    monkeypatch.setattr(images, "open_image", lambda source, limit: opened.append(source) or real(source, limit))
    nt.stylize(image_path(CONTENT), image_path(STYLE), nt.Config(size=64, iterations=1, coarse_iterations=1),
               progress=False)
    assert sorted(map(str, opened)) == sorted([str(image_path(CONTENT)), str(image_path(STYLE))])


def test_the_four_steps_by_hand_under_mycaffe_give_stylizes_first_loss():
    """Each step takes the Config, so MyCaffe's arithmetic reaches step 1 too (its GRAM scale),
    and the steps by hand give what `stylize` computes to the last bit."""
    from tests.conftest import tiny_state

    cfg = nt.Config.mycaffe(size=48, iterations=1)
    net = nt.build_vgg19(tiny_state(), "max", last="relu5_1", fast_conv=False, ceil_mode=cfg.ceil_mode)
    norm = nt.Normalizer(cfg.weights)
    content = nt.load_image(image_path(CONTENT), cfg.size)
    style = images.resize_to(nt.load_image(image_path(STYLE)), content)  # MyCaffe stretches the style
    grams = nt.capture_style_targets(net, norm, [style], cfg)
    feats = nt.capture_content_targets(net, norm, content, cfg)
    model = nt.augment(net, norm, grams, feats, init=content, config=cfg)
    by_hand = model().item()
    staged = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, net=net, progress=False)
    assert staged.total[0] == by_hand
    default_grams = nt.capture_style_targets(net, norm, [style], nt.Config())
    assert not torch.allclose(grams["conv1_1"], default_grams["conv1_1"])  # the preset's GRAM is not the default's


def count_calls(monkeypatch: pytest.MonkeyPatch, function: object) -> list[tuple]:
    """Replace `function` in every package module that holds it; the list records each call."""
    import sys

    calls: list[tuple] = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return function(*args, **kwargs)  # type: ignore[operator]

    for name, module in list(sys.modules.items()):
        if name.startswith("nst_tutorial"):
            for attr, value in list(vars(module).items()):
                if value is function:
                    monkeypatch.setattr(module, attr, counted)
    return calls


def test_a_command_line_run_decodes_each_image_picks_the_device_and_plans_the_stages_once(tmp_path, monkeypatch):
    import nst_tutorial.cli.paint  # noqa: F401  (every module the run uses, loaded before counting)
    import nst_tutorial.cost  # noqa: F401

    decoded = count_calls(monkeypatch, images.open_image)
    devices = count_calls(monkeypatch, stages.pick_device)
    plans = count_calls(monkeypatch, stages.stage_sizes)
    out = tmp_path / "out.png"
    assert cli.main(["-c", CONTENT, "-s", STYLE, "--size", "48", "-n", "2", "--coarse-iterations", "2", "-q",
                     "-o", str(out)]) == 0
    assert out.is_file()
    assert sorted(str(c[0]) for c in decoded) == sorted([str(image_path(CONTENT)), str(image_path(STYLE))])
    assert len(devices) == 1 and len(plans) == 1


def _raise(exc: type[BaseException]) -> None:
    raise exc


def _start(config: nt.Config, styles: list) -> torch.Tensor:
    """The image a run's first stage starts from, (1, 3, H, W) in [0, 1]."""
    return nt.prepare(image_path(CONTENT), styles, config).rgb()


def test_palette_start_is_the_photo_mapped_to_the_paintings_colour_mean_and_covariance():
    from scipy.linalg import sqrtm

    cfg = nt.Config(size=48, init="palette", scales=(1.0,))
    styles = [image_path(STYLE), image_path("the_scream")]
    photo = images.resize(images.load_image(image_path(CONTENT), 48), 48)
    paintings = [images.resize(images.load_image(image_path(s), 48), 48) for s in styles]
    # numpy's arithmetic, apart from the package's: pixels as rows, the paintings pooled
    x = photo[0].flatten(1).double().numpy().T
    pooled = torch.cat([p[0].flatten(1) for p in paintings], dim=1).double().numpy().T
    a = sqrtm(np.cov(pooled.T, bias=True)) @ np.linalg.inv(sqrtm(np.cov(x.T, bias=True)))
    expected = np.clip((x - x.mean(0)) @ a.real.T + pooled.mean(0), 0, 1).T.reshape(photo.shape)
    got = _start(cfg, styles)
    assert np.abs(got.double().numpy() - expected).max() < 1e-4
    assert (got - photo).abs().mean() > 0.05  # the photo's colours did change


def test_palette_start_keeps_the_photo_when_its_colours_are_kept():
    cfg = nt.Config(size=48, init="palette", scales=(1.0,), preserve_color="histogram")
    assert torch.equal(_start(cfg, [image_path(STYLE)]), _start(replace(cfg, init="content"), [image_path(STYLE)]))


def test_the_full_size_stage_leaves_out_conv5_1_and_the_coarse_stage_weighs_the_content_less():
    cfg = nt.Config(size=64, scales=(0.5, 1.0), coarse_iterations=3, iterations=2, tolerance=0.0)
    weights: list[tuple[int, float, str]] = []

    def watch(result, current):
        weights.append((current.shape[-1], result.model.content_weight, list(result.model.net.named_children())[-1][0]))

    result = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False, callback=watch)
    c = cfg.content_weight
    assert weights == [(24, c * 0.8, "style_conv5_1")] * 3 + [(48, c, "content_conv4_2")] * 2  # ends at conv4_2
    deep = result.history["style/conv5_1"]
    assert all(len(v) == len(result.iterations) == 5 for v in result.history.values())  # aligned: a gap, not a shift
    assert all(np.isfinite(deep[:3])) and all(np.isnan(deep[3:]))
    assert all(np.isfinite(result.history["style/conv4_1"]))
    plain = nt.stylize(image_path(CONTENT), image_path(STYLE), replace(cfg, scales=(1.0,)), progress=False)
    assert all(np.isfinite(plain.history["style/conv5_1"]))  # a plain solve keeps every layer
    kept = replace(cfg, full_size_deepest=None)
    assert all(np.isfinite(nt.stylize(image_path(CONTENT), image_path(STYLE), kept,
                                      progress=False).history["style/conv5_1"]))
