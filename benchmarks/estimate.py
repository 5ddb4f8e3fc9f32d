"""`python benchmarks/estimate.py`: how close `nst_tutorial.cost.estimate` comes, at 128 to 1024 px.

Each size runs in its own fresh process: the plain solve (one stage), a warm-up iteration and
three timed ones; the process reports its own peak RSS (VmHWM) at exit. The prediction comes
from the same machine's calibration. Prints a Markdown table and draws how both grow with the
pixel count (`--plot`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import nst_tutorial as nt
from nst_tutorial import cost as E

CHILD = """
import json, sys, time
import nst_tutorial as nt
from nst_tutorial.data import CONTENT, STYLE, image_path
size, low = int(sys.argv[1]), sys.argv[2] == "low"
cfg = nt.Config(size=size, scales=(1.0,), iterations=4, low_memory=low)
result = nt.stylize(image_path(CONTENT), image_path(STYLE), cfg, progress=False)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
steps = [b - a for a, b in zip(result.times, result.times[1:])]
print(json.dumps({"peak_mb": peak, "seconds_per_iteration": min(steps)}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/estimate.py", description=(__doc__ or "").split("\n")[0])
    p.add_argument("--sizes", default="128,256,512,768,1024")
    p.add_argument("--plot", default="estimate_accuracy.png")
    p.add_argument("--json", default="estimate_accuracy.json")
    p.add_argument("--low-memory", action="store_true",
                   help="with Config.low_memory (NNPACK in strips, no Winograd kernels, bfloat16 L-BFGS pairs)")
    args = p.parse_args(argv)
    calibration = E.calibrate(nt.Config())
    rows = []
    for size in map(int, args.sizes.split(",")):
        config = nt.Config(size=size, scales=(1.0,), iterations=4, low_memory=args.low_memory)
        predicted = E.estimate(config, calibration=calibration)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(size), "low" if args.low_memory else "plain"],
                              capture_output=True, text=True, check=True)
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"size": size, "pixels": predicted.size[0] * predicted.size[1],
                     "peak_mb": [predicted.peak_mb, measured["peak_mb"]],
                     "seconds_per_iteration": [predicted.seconds_per_iteration, measured["seconds_per_iteration"]]})
        print(json.dumps(rows[-1]), flush=True)
    with open(args.json, "w") as f:
        json.dump({"calibration": calibration.__dict__, "rows": rows}, f, indent=2)
    print(table(rows))
    plot(rows, args.plot)
    return 0


def table(rows: list[dict]) -> str:
    lines = ["| size | peak MB predicted / measured | error | s per iteration predicted / measured | error |",
             "|---|---|---|---|---|"]
    for r in rows:
        (pm, mm), (pt, mt) = r["peak_mb"], r["seconds_per_iteration"]
        lines.append(f"| {r['size']} px | {pm:,.0f} / {mm:,.0f} | {100 * (pm / mm - 1):+.0f}% "
                     f"| {pt:.2f} / {mt:.2f} | {100 * (pt / mt - 1):+.0f}% |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    from nst_tutorial.plots import new_axes

    fig, (mem, time_) = new_axes(2, 4.5, 3.4)
    pixels = [r["pixels"] / 1e6 for r in rows]
    for ax, key, label in ((mem, "peak_mb", "peak memory (MB)"), (time_, "seconds_per_iteration", "s per iteration")):
        ax.plot(pixels, [r[key][0] for r in rows], "o--", label="predicted")
        ax.plot(pixels, [r[key][1] for r in rows], "s-", label="measured")
        ax.set(xlabel="megapixels", ylabel=label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
