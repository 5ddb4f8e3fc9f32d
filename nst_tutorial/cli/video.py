"""`nst-tutorial video`: paint a clip without flicker (Ruder et al. 2016), resumable after Ctrl-C."""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import statistics
import sys
import textwrap
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from torch import Tensor

from ..data import resolve_image
from ..errors import NSTError, OutputPathError
from ..images import load_image, save_image
from ..video import stylize_video
from ..video.clips import Clip, check_clip_path, read_clip, write_clip
from .options import Parser, add_settings, config_from_args

RECORD = ".nst-video.json"  # in the frames folder: which run its frames belong to
EXIT_STATUSES = """exit status:
  0    the clip was written
  2    bad input or settings: one 'nst-tutorial video: error:' line; finished frames are kept
  130  Ctrl-C (SIGINT), 143  SIGTERM: stopped; the finished frames are kept, and the same
       command continues from the first unfinished one"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="nst-tutorial video", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_STATUSES,
               description=textwrap.fill(
                   "Paint a clip in the style of a painting without flicker (Ruder, Dosovitskiy & Brox 2016): each "
                   "frame after the first starts from the last result warped along the optical flow (OpenCV's DIS), "
                   "and a temporal loss holds it there where the flow is reliable. Styles are files or bundled "
                   "images by name (nst-tutorial --list-images).", 79))
    p.add_argument("input", help="an MP4, WebM, MOV, MKV or GIF file, or a folder of numbered images")
    p.add_argument("-s", "--style", nargs="+", required=True, help="style image(s); several are blended")
    p.add_argument("-o", "--output", help="where to write the clip: a video or GIF file, or a folder for PNG frames "
                                          "(default: the input's kind, named INPUT_painted)")
    p.add_argument("--independent", action="store_true",
                   help="paint every frame on its own, with no flow and no temporal loss (flickers: for comparison)")
    p.add_argument("--temporal-weight", type=float, metavar="W",
                   help="weight of the temporal loss: larger holds each frame closer to the last one, warped "
                        "(default: 20)")
    p.add_argument("--temporal-frames", type=parse_frames_back, metavar="J,...",
                   help="frames back the temporal loss looks: 1 (the paper's short-term loss), or 1,2,4 for the "
                        "long-term loss (default: 1)")
    p.add_argument("--later-iterations", type=int, metavar="N",
                   help="cap on the iterations of each frame after the first, which starts close to its result "
                        "(default: 25)")
    p.add_argument("--fps", type=float, help="frame rate for a folder of frames, which has none (default: 25)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_settings(p)
    return p


def parse_frames_back(text: str) -> tuple[int, ...]:
    """`"1,2,4"` -> (1, 2, 4)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give frames back like 1 or 1,2,4 - got {text!r}") from None


def default_output(source: Path) -> Path:
    """INPUT_painted beside the input: a folder for a folder, the same suffix for a file."""
    return source.with_name(f"{source.stem}_painted{source.suffix}") if source.is_file() else \
        source.with_name(f"{source.name}_painted")


def frames_folder(output: Path) -> Path:
    """Where the finished frames go as PNGs: the output folder itself, or OUTPUT_frames beside a file."""
    return output if not output.suffix else output.with_name(f"{output.stem}_frames")


def run_key(args: argparse.Namespace, config_fields: dict[str, Any], clip: Clip) -> str:
    """What makes two runs the same: the settings, the style files' bytes and the input frames."""
    h = hashlib.sha256(json.dumps([config_fields, args.independent], sort_keys=True, default=str).encode())
    for style in args.style:
        h.update(resolve_image(style).read_bytes())
    h.update(str([tuple(f.shape) for f in clip.frames]).encode())
    for f in clip.frames[:: max(1, len(clip.frames) // 8)]:
        h.update(f.numpy().tobytes())
    return h.hexdigest()[:16]


def finished_frames(folder: Path, key: str, count: int) -> list[Tensor]:
    """The frames an earlier run of the same settings finished, in order (stops at the first gap).

    Raises `OutputPathError` if the folder holds another run's frames."""
    record = folder / RECORD
    names = [frame_name(i) for i in range(count)]
    if not record.exists():
        if any((folder / n).exists() for n in names):
            raise OutputPathError(f"{folder} holds frames this command did not write: remove them or choose another "
                                  "--output")
        return []
    if json.loads(record.read_text()).get("key") != key:
        raise OutputPathError(f"{folder} holds the frames of a run with other settings or inputs: remove it to start "
                              "over, or choose another --output")
    done = []
    for name in names:
        if not (folder / name).exists():
            break
        done.append(load_image(folder / name))
    return done


def frame_name(index: int) -> str:
    return f"{index + 1:05d}.png"


def video_main(argv: list[str]) -> int:
    """`nst-tutorial video INPUT -s STYLE -o OUTPUT`."""
    args = build_parser().parse_args(argv)
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt  # the solve catches it and the clip ends after the last finished frame

    handlers = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    folder, total = None, 0
    painted: list[Tensor] = []  # every frame finished so far, this run's and earlier runs'
    seconds: list[float] = []  # this run's time on each frame it painted
    try:
        config = config_from_args(args)
        changes = {"temporal_weight": args.temporal_weight, "temporal_frames": args.temporal_frames,
                   "later_frame_iterations": args.later_iterations}
        config = replace(config, **{k: v for k, v in changes.items() if v is not None})
        styles = [resolve_image(s) for s in args.style]
        source = Path(args.input)
        output = Path(args.output) if args.output else default_output(source)
        check_clip_path(output)
        clip = read_clip(source, config.size)
        if args.fps:
            clip.fps = type(clip.fps)(args.fps).limit_denominator(1001)
        total, folder = len(clip.frames), frames_folder(output)
        folder.mkdir(exist_ok=True)
        key = run_key(args, asdict(config), clip)
        done = finished_frames(folder, key, total)
        (folder / RECORD).write_text(json.dumps({"key": key, "input": str(source), "style": args.style}))
        if done:
            _say(args, f"continuing from frame {len(done) + 1} of {total}: {len(done)} finished in {folder}")
        for frame in stylize_video(clip.frames, styles, config, independent=args.independent, done=done,
                                   progress=not args.quiet, total=total):
            if frame.result is not None:
                save_image(frame.image, folder / frame_name(frame.index))
                seconds.append(frame.seconds)
            painted.append(frame.image)
        if received or len(painted) < total:
            raise KeyboardInterrupt
        if output != folder:
            write_clip(painted, output, clip.fps)
    except KeyboardInterrupt:
        signum = received[-1] if received else signal.SIGINT
        where = f"the {len(painted)} finished frames are in {folder}; " if painted and folder else ""
        at = f"at frame {len(painted) + 1} of {total}" if total else "before the first frame"
        print(f"nst-tutorial video: {signal.Signals(signum).name}: stopped {at}; {where}the same command continues "
              "from there", file=sys.stderr)
        return 128 + signum
    except (NSTError, FileNotFoundError) as exc:
        print(f"nst-tutorial video: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    h, w = painted[0].shape[-2:]
    timing = _timing(seconds, first=not done)
    print(f"wrote {output}: {total} frames of {w}x{h} at {float(clip.fps):g} fps{timing}; frames in {folder}")
    return 0


def _timing(seconds: list[float], first: bool) -> str:
    """", first frame 31.2 s, later ones 9.4 s (median)" for the frames this run painted."""
    if not first or len(seconds) < 2:
        return f", {statistics.median(seconds):.1f} s a frame" if seconds else ""
    return f", first frame {seconds[0]:.1f} s, later ones {statistics.median(seconds[1:]):.1f} s (median)"


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)

