"""One solve path: the CLI, `nt.stylize` and the Evaluator run the same staged solve."""

from __future__ import annotations

import pytest
import torch

import nst_tutorial as nt
from nst_tutorial import cli
from nst_tutorial.data import CONTENT, STYLE, image_path
from nst_tutorial.evaluator import Evaluator


def test_cli_library_and_evaluator_give_the_same_solve(tmp_path):
    cfg = nt.Config(size=48, iterations=4, coarse_iterations=3, scales=(0.5, 1.0))
    library = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False)
    args = cli.build_parser().parse_args(["--size", "48", "-n", "4", "--coarse-iterations", "3", "--scales", "0.5,1",
                                          "-q", "-o", str(tmp_path / "out.png")])
    command_line = cli.run(args, cli.job_from_args(args))
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
    assert [(s.height, s.iterations) for s in result.stages] == [(32, 3), (64, 0)]
    again = nt.solve(result.model, cfg, result=result, iterations=2, progress=False)
    assert again.iterations == [1, 2, 3, 4, 5] and again.stages[-1].iterations == 2


def test_a_result_of_another_model_is_refused():
    cfg = nt.Config(size=32, iterations=1, scales=(1.0,))
    first = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False)
    other = nt.prepare(image_path(CONTENT), image_path(STYLE), cfg)
    with pytest.raises(nt.ConfigError, match="another model"):
        nt.solve(other, cfg, result=first, progress=False)


def test_each_input_image_is_decoded_once(monkeypatch):
    from nst_tutorial import images

    opened = []
    real = images._open
    monkeypatch.setattr(images, "_open", lambda source, limit: opened.append(source) or real(source, limit))
    nt.stylize(image_path(CONTENT), image_path(STYLE), nt.Config(size=64, iterations=1, coarse_iterations=1),
               progress=False)
    assert sorted(map(str, opened)) == sorted([str(image_path(CONTENT)), str(image_path(STYLE))])


def _raise(exc: type[BaseException]) -> None:
    raise exc
