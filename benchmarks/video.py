"""Video without flicker, measured: temporal (Ruder et al. 2016) against independent frames.

For each clip and painting, both ways of painting the clip are judged from their 8-bit frames:
- steadiness: the warping error between consecutive painted frames (`video.steadiness`), over
  the pixels the input frames' forward-backward check keeps;
- each frame on both axes (`judge.metrics`): content fidelity against its input frame and the
  held-out style distance to the painting, neither of which the solve optimises;
- seconds per frame, the first and the later ones, and the iterations of each.

The clips are made from bundled photos (`video.clips.panned_clip`: a window panning across the
photo, a round cut-out crossing in front), so they ship with the package and their motion is
known. `--smoke` runs a tiny version for the test suite.

    python benchmarks/video.py --json benchmarks/video.json --figure benchmarks/video.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.judge.clips import ClipScores, judge_clip
from nst_tutorial.plots import plot_frame_change, show_clip
from nst_tutorial.video.clips import Clip, panned_clip

PAINTINGS = ("starry_night", "the_scream")


def clips(frames: int, size: int) -> dict[str, Clip]:
    """Two clips with different motion: a pan right with a cup crossing it; a pan left and down
    with a round portrait crossing the other way."""
    return {
        "metro + cup": panned_clip(image_path("u_street_metro"), frames, size, step=(4, 2),
                                   thing=image_path("coffee"), thing_step=(12, 0)),
        "mountain + portrait": panned_clip(image_path("mountain_landscape"), frames, size, step=(-3, 2),
                                           thing=image_path("astronaut"), thing_step=(-10, 4)),
    }


def paint(clip: Clip, painting: str, config: nt.Config, independent: bool) -> tuple[list, ClipScores]:
    """One way of painting one clip: its frames and their scores."""
    painted = list(nt.stylize_video(clip.frames, image_path(painting), config, independent=independent,
                                    progress=False))
    scores = judge_clip(painted, clip.frames, image_path(painting))
    scores.per_frame["iterations"] = [[s.iterations for s in f.result.stages] for f in painted]
    return [f.image for f in painted], scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--temporal-weight", type=float, help="default: the Config's")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--figure", type=Path, help="write the first pair's frames and frame changes here (.png)")
    p.add_argument("--pair", type=int, help="run only this pair (0-3: clip-major order) and replace its row in --json")
    p.add_argument("--smoke", action="store_true", help="2 frames of one clip at 48 px, few iterations")
    args = p.parse_args()
    config = nt.Config(size=args.size)
    if args.temporal_weight is not None:
        config = replace(config, temporal_weight=args.temporal_weight)
    pairs = [(c, s) for c in clips(args.frames, args.size) for s in PAINTINGS]
    if args.pair is not None:
        pairs = [pairs[args.pair]]
    if args.smoke:
        config = replace(config, size=48, iterations=4, coarse_iterations=3)
        args.frames, pairs = 2, pairs[:1]
    made = clips(args.frames, config.size)
    rows, figure_rows = [], {}
    for name, painting in pairs:
        began = time.perf_counter()
        runs = {way: paint(made[name], painting, config, way == "independent") for way in ("temporal", "independent")}
        rows.append({"clip": name, "painting": painting, "frames": args.frames, "size": config.size,
                     "temporal_weight": config.temporal_weight,
                     **{way: scores.as_dict() for way, (_, scores) in runs.items()}})
        t, i = rows[-1]["temporal"], rows[-1]["independent"]
        print(f"{name} x {painting}: warping error {t['warping_error']:.1f} against {i['warping_error']:.1f} "
              f"({1 - t['warping_error'] / i['warping_error']:.0%} lower); content fidelity "
              f"{t['content_fidelity']:.3f} / {i['content_fidelity']:.3f}; style distance {t['style_sw']:.4f} / "
              f"{i['style_sw']:.4f}; first frame {t['first_s']:.1f} s, later {t['later_s']:.1f} s "
              f"(independent {statistics.median(i['per_frame']['seconds']):.1f} s); "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        if not figure_rows:
            figure_rows = {"input": made[name].frames, **{way: frames for way, (frames, _) in runs.items()},
                           "errors": {way: scores.per_frame["warping_error"] for way, (_, scores) in runs.items()}}
    if args.json and args.pair is not None and args.json.exists():  # the other pairs' rows stay
        old = json.loads(args.json.read_text())
        rows = [next((r for r in rows if (r["clip"], r["painting"]) == (o["clip"], o["painting"])), o) for o in old]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.figure and figure_rows:
        errors = figure_rows.pop("errors")
        figure = show_clip(figure_rows)
        figure.savefig(args.figure, dpi=72, bbox_inches="tight")
        plot_frame_change(errors).savefig(args.figure.with_name(args.figure.stem + "_change.png"), dpi=72,
                                          bbox_inches="tight")


if __name__ == "__main__":
    main()
