"""`nst-tutorial score CONTENT STYLE IMAGE...`: score any pictures with numbers no loss optimised."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from .options import Parser
from ..data import resolve_image
from ..errors import NSTError
from ..judge import Judge, Scores


def build_score_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="nst-tutorial score",
        description=textwrap.fill(
            "Score pictures, from any tool, with numbers no loss optimised: content fidelity (cosine "
            "similarity of VGG19 features at conv4_1 and conv5_1 to the photo's; higher keeps more photo), "
            "held-out style distances to the painting (sliced Wasserstein at conv1_1..conv5_1 and Gram at "
            "conv1_2, conv2_2, conv3_2, each relative to the photo's own distance: 1 = no style, lower = "
            "more), and the mean CIEDE2000 colour difference to the photo. See nst_tutorial/judge/metrics.py.", 79),
        epilog="exit status: 0 scored; 2 a file that is not an image (one line)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("content", help="the content photo (a file or a bundled image's name)")
    p.add_argument("style", help="the style painting (a file or a bundled image's name)")
    p.add_argument("images", nargs="+", help="the pictures to score")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


SCORE_COLUMNS = ("content fidelity (higher: more photo)", "style SW (lower: more painting)",
                 "style Gram held-out (lower)", "colour dE2000")


def score_table(scores: dict[str, Scores]) -> str:
    """The scores of several images as an aligned text table, one row per image."""
    width = max(12, *(len(name) for name in scores))
    lines = [f"{'image':<{width}}  " + "  ".join(SCORE_COLUMNS)]
    for name, s in scores.items():
        values = (s.content_fidelity, s.style_sw, s.style_gram, s.delta_e)
        lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>{len(c)}.3f}" for v, c in zip(values, SCORE_COLUMNS)))
    return "\n".join(lines)


def score_main(argv: list[str]) -> int:
    """`nst-tutorial score CONTENT STYLE IMAGE...`"""
    args = build_score_parser().parse_args(argv)
    try:
        judge = Judge(resolve_image(args.content), resolve_image(args.style))
        scores = {image: judge.score(resolve_image(image)) for image in args.images}
    except NSTError as exc:
        print(f"nst-tutorial score: error: {exc}", file=sys.stderr)
        return 2
    for note in judge.notes:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps({name: s.as_dict() for name, s in scores.items()}, indent=2))
    else:
        print(score_table(scores))
    return 0
