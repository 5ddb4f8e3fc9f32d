"""`python benchmarks/control.py`: the controls measured (colour, regions, scale), at 256 px on the bundled photo.

Writes the images it scores, a JSON file and a Markdown table. Not a timing: what matters is
whether each control did what it promises, on numbers it did not optimise (`control_metrics`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

import nst_tutorial as nt
from nst_tutorial.judge.controls import Measure
from nst_tutorial.data import image_path

CONTENT, STYLE, OTHER = "u_street_metro", "starry_night", "the_scream"


def colour(out: Path, cfg: nt.Config, measure: Measure, pastiche_steps: int) -> dict[str, dict[str, object]]:
    runs = {"plain": cfg, "luminance": replace(cfg, preserve_color="luminance"),
            "histogram (eigen)": replace(cfg, preserve_color="histogram"),
            "histogram (cholesky)": replace(cfg, preserve_color="histogram", color_match="cholesky")}
    rows = {}
    for label, config in runs.items():
        path = out / f"colour_{label.split()[0]}_{config.color_match}.png"
        nt.save_image(nt.stylize(image_path(CONTENT), image_path(STYLE), config, progress=False).image, path)
        rows[label] = measure.colour(path, image_path(CONTENT), image_path(STYLE))
    for label, flag in (("pastiche", []), ("pastiche --preserve-color", ["--preserve-color"])):
        path = out / f"colour_{'pastiche_pc' if flag else 'pastiche'}.png"
        proc = subprocess.run([sys.executable, "-m", "pastiche", "--content", str(image_path(CONTENT)), "--styles",
                               str(image_path(STYLE)), "--output", str(path), "--size", str(cfg.size),
                               "--num-steps", str(pastiche_steps), "--device", "cpu", "--seed", "0", *flag],
                              capture_output=True, text=True)
        if proc.returncode != 0:  # pastiche 1.6.0's --preserve-color calls torch.eig, gone from torch 2
            errors = [line for line in proc.stderr.splitlines() if "Error" in line] or proc.stderr.splitlines()[-1:]
            rows[label] = {"failed": errors[-1].strip()}
            continue
        rows[label] = measure.colour(path, image_path(CONTENT), image_path(STYLE))
    return rows


def regions(out: Path, cfg: nt.Config, measure: Measure) -> dict[str, list[list[float]]]:
    content = nt.load_image(image_path(CONTENT), cfg.size)
    h, w = content.shape[-2:]
    masks = torch.zeros(2, 1, h, w)
    masks[0, :, : h // 2], masks[1, :, h // 2:] = 1, 1  # the vault above, the platform and tracks below
    styles = [image_path(STYLE), image_path(OTHER)]
    result = nt.stylize(content, styles, cfg, progress=False, masks=masks)
    nt.save_image(result.image, out / "regions.png")
    return {"losses": measure.regions(out / "regions.png", masks, styles).tolist()}


def scale(out: Path, cfg: nt.Config, measure: Measure) -> dict[str, dict[str, float]]:
    styles = [image_path(STYLE), image_path(OTHER)]
    rows = {}
    for label, config in (("blend", cfg), ("scale: fine from A, coarse from B",
                                           replace(cfg, style_layer_sources=(0, 0, 1, 1, 1)))):
        path = out / f"scale_{'blend' if config.style_layer_sources is None else 'split'}.png"
        nt.save_image(nt.stylize(image_path(CONTENT), styles, config, progress=False).image, path)
        rows[label] = measure.scale(path, *styles)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/control.py", description=(__doc__ or "").split("\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--pastiche-steps", type=int, default=200)
    p.add_argument("--out", default="control_out")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    cfg = nt.Config(size=args.size)
    if args.smoke:
        cfg, args.pastiche_steps = replace(cfg, size=48, iterations=2, coarse_iterations=1), 2
    measure = Measure()
    report = {"colour": colour(out, cfg, measure, args.pastiche_steps), "regions": regions(out, cfg, measure),
              "scale": scale(out, cfg, measure)}
    (out / "control.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
