"""`python benchmarks/style_losses.py`: the style losses judged on two axes after equal time.

For each pair of images (content, painting) and each `Config.style_loss`, the default staged
solve at 256 px runs until a fixed budget of CPU time is spent (the same for every loss; CPU
time rather than wall time, so another job on the machine does not decide the ranking), then
its 8-bit result is scored with `nst_tutorial.judge.metrics`. To compare Gram and sliced
Wasserstein at equal content fidelity, both also run with the content weight x0.3 and x3,
and the held-out style distances are interpolated at common fidelities.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.judge import Judge
from nst_tutorial.style_losses import KINDS

PAIRS = (("u_street_metro", "starry_night"), ("mountain_landscape", "the_scream"))


def run(content: str, style: str, config: nt.Config, budget: float) -> tuple[nt.SolveResult, float]:
    start = time.process_time()
    result = nt.stylize(image_path(content), image_path(style), config, progress=False,
                        stop=lambda: time.process_time() - start > budget)
    return result, time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/style_losses.py", description=(__doc__ or "").split("\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--budget", type=float, default=90.0, help="CPU seconds per solve (2 threads: about half that "
                                                              "in wall time on an idle 2-core machine)")
    p.add_argument("--json", default="style_losses.json")
    args = p.parse_args(argv)
    rows = []
    for content, style in PAIRS:
        judge = Judge(image_path(content), image_path(style))
        base = nt.Config(size=args.size, iterations=10_000)
        runs = {(kind, 1.0): replace(base, style_loss=kind, style_weight=k.weight) for kind, k in KINDS.items()}
        for kind in ("gram", "sliced_wasserstein"):
            for factor in (0.3, 3.0):
                runs[(kind, factor)] = replace(runs[(kind, 1.0)], content_weight=base.content_weight * factor)
        for (kind, factor), config in runs.items():
            result, cpu = run(content, style, config, args.budget)
            scores = judge.score(result.image).as_dict()
            rows.append({"content": content, "style": style, "loss": kind, "content_weight_factor": factor,
                         "cpu_s": cpu, "full_size_iterations": result.stages[-1].iterations, **scores})
            print(json.dumps(rows[-1]), flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=2))
    print(table(rows))
    return 0


def at_fidelity(rows: list[dict], kind: str, fidelity: float, key: str) -> float:
    """`key` of `kind`'s content-weight sweep, interpolated linearly at `fidelity` (nan outside its range)."""
    points = sorted((r["content_fidelity"], r[key]) for r in rows if r["loss"] == kind)
    xs, ys = zip(*points)
    return float(np.interp(fidelity, xs, ys, left=np.nan, right=np.nan))


def table(rows: list[dict]) -> str:
    lines = ["| pair | loss | full-size iterations | content fidelity | style SW, held out | style Gram, held out "
             "| colour dE |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["content_weight_factor"] == 1.0:
            lines.append(f"| {r['content']} + {r['style']} | {r['loss']} | {r['full_size_iterations']} "
                         f"| {r['content_fidelity']:.3f} | {r['style_sw']:.3f} | {r['style_gram']:.3f} "
                         f"| {r['delta_e']:.1f} |")
    lines += ["", "| pair | content fidelity | Gram: style SW / Gram-distance | SW: style SW / Gram-distance |",
              "|---|---|---|---|"]
    for content, style in PAIRS:
        pair = [r for r in rows if r["content"] == content and r["loss"] in ("gram", "sliced_wasserstein")]
        fids = sorted({round(r["content_fidelity"], 2) for r in pair})
        for f in np.linspace(min(fids), max(fids), 5):
            g = [at_fidelity(pair, "gram", f, k) for k in ("style_sw", "style_gram")]
            s = [at_fidelity(pair, "sliced_wasserstein", f, k) for k in ("style_sw", "style_gram")]
            lines.append(f"| {content} + {style} | {f:.2f} | {g[0]:.3f} / {g[1]:.3f} | {s[0]:.3f} / {s[1]:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
