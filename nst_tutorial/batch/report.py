"""What a sweep leaves behind: one contact sheet (PNG) and one table (CSV and JSON)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..config import Config
from ..images import to_pil
from .job import JobResult, record, stem

SCORE_NAMES = ("content_fidelity", "style_sw", "style_gram", "delta_e")


def contact_sheet(results: Sequence[JobResult], thumb: int = 192) -> Image.Image:
    """Every picture at `thumb` px long side: a row per content / style, a column per setting;
    a failed job is a grey tile that says so."""
    rows = list(dict.fromkeys(r.job.pair for r in results))
    cols = list(dict.fromkeys(r.job.label for r in results))
    font = ImageFont.load_default(size=12)
    left = max(60, *(int(font.getlength(name)) + 12 for name in rows))
    top = 24 if any(cols) else 4
    sheet = Image.new("RGB", (left + len(cols) * (thumb + 4), top + len(rows) * (thumb + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, col in enumerate(cols):
        draw.text((left + j * (thumb + 4), 4), _fit(col, font, thumb), fill="black", font=font)
    for i, row in enumerate(rows):
        draw.text((4, top + i * (thumb + 4) + thumb // 2), row, fill="black", font=font)
    for r in results:
        x, y = left + cols.index(r.job.label) * (thumb + 4), top + rows.index(r.job.pair) * (thumb + 4)
        if r.image is None:
            draw.rectangle((x, y, x + thumb, y + thumb), fill=(200, 200, 200))
            draw.text((x + 6, y + thumb // 2), "failed", fill="black", font=font)
            continue
        tile = to_pil(r.image)
        w, h = tile.size
        tile = tile.resize((round(w * thumb / max(w, h)), round(h * thumb / max(w, h))), Image.Resampling.LANCZOS)
        sheet.paste(tile, (x + (thumb - tile.width) // 2, y + (thumb - tile.height) // 2))
    return sheet


def table(results: Sequence[JobResult]) -> list[dict]:
    """One row per job: its names, the settings that vary across the sweep, final losses, scores."""
    varying = _varying([r.job.config for r in results])
    rows = []
    for r in results:
        losses = r.losses
        row = {"content": stem(r.job.content), "styles": "+".join(stem(s) for s in r.job.styles),
               "settings": r.job.label, **{name: _cell(getattr(r.job.config, name)) for name in varying},
               "image": r.path.name if r.path else "", "error": r.error or "", "resumed": r.resumed,
               "iterations": len(r.iterations), "seconds": round(r.seconds, 2),
               "total_loss": losses.get("total", ""),
               "content_loss": sum(v for k, v in losses.items() if k.startswith("content/")) if losses else "",
               "style_loss": sum(v for k, v in losses.items() if k.startswith("style/")) if losses else ""}
        row.update({name: getattr(r.scores, name) if r.scores else "" for name in SCORE_NAMES})
        rows.append(row)
    return rows


def write_report(results: Sequence[JobResult], folder: Path) -> tuple[Path, Path, Path]:
    """`sweep.png`, `sweep.csv` and `sweep.json` (every job's full record) in `folder`."""
    sheet, csv_path, json_path = folder / "sweep.png", folder / "sweep.csv", folder / "sweep.json"
    contact_sheet(results).save(sheet)
    rows = table(results)
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps([record(r) for r in results], indent=1))
    return sheet, csv_path, json_path


def _varying(configs: Sequence[Config]) -> list[str]:
    first = asdict(configs[0])
    return [f.name for f in fields(Config) if any(asdict(c)[f.name] != first[f.name] for c in configs[1:])]


def _cell(value: object) -> object:
    return ",".join(map(str, value)) if isinstance(value, tuple) else value


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    while len(text) > 1 and font.getlength(text) > width:
        text = text[:-2] + "…"
    return text
