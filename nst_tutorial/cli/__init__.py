"""The command line: `nst-tutorial` paints one picture (`paint`), `nst-tutorial score` scores any
pictures (`score`), `nst-tutorial sweep` paints many (`sweep`), `nst-tutorial video` paints a clip (`video`),
`nst-tutorial serve` serves a class (`serve`); `options`
holds what they share."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """`nst-tutorial [score | sweep | video | serve] ...`: each subcommand is imported only when it runs."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["score"]:
        from .score import score_main

        return score_main(argv[1:])
    if argv[:1] == ["video"]:
        from .video import video_main

        return video_main(argv[1:])
    if argv[:1] == ["serve"]:
        from .serve import serve_main

        return serve_main(argv[1:])
    if argv[:1] == ["sweep"]:
        from .sweep import sweep_main

        return sweep_main(argv[1:])
    from .paint import paint_main

    return paint_main(argv)
