"""`nst-tutorial sweep`: contents x styles x a grid of settings, on a local pool or a Dask cluster."""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from concurrent.futures import Executor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .options import Parser, add_settings, config_from_args
from ..data import CONTENT, STYLE
from ..errors import ConfigError, NSTError
from ..batch.grid import configs, load_grid
from ..batch import JobResult, jobs, local_pool, sweep
from ..batch.pool import shutdown
from ..batch.report import write_report

EXIT = """exit status:
  0    every job wrote its picture
  2    bad settings, grid file or output folder (one line, nothing run), or some jobs failed
       (one line each; the others' pictures are written)
  130  Ctrl-C (SIGINT), 143  SIGTERM: jobs not started are cancelled; what finished is written,
       and running the same command again skips it"""


def build_sweep_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="nst-tutorial sweep",
        description=textwrap.fill(
            "Stylize every content image with every style under every setting of a grid, several at once. "
            "Each picture is named by a hash of its images and settings, so running the command again skips "
            "what exists. Writes the pictures, sweep.png (a contact sheet), sweep.csv and sweep.json "
            "(settings, losses and scores; see nst-tutorial score --help).", 79),
        epilog=EXIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--content", nargs="+", default=[CONTENT],
                   help=f"content images: files or bundled names (default: {CONTENT})")
    p.add_argument("-s", "--style", nargs="+", default=[STYLE],
                   help=f"style images, one job each; a+b blends two (default: {STYLE})")
    p.add_argument("--grid", metavar="FILE",
                   help='a JSON grid of settings, every combination is run: {"content_weight": [0.05, 0.2, 1], '
                        '"style_loss": ["gram", "w2"]}; keys are nst_tutorial.Config fields (default: none, the '
                        "options' settings only)")
    p.add_argument("-o", "--out", default="sweep", help="folder for the results (default: sweep)")
    p.add_argument("--workers", type=int,
                   help="local worker processes, each with cores / workers torch threads (default: as many as "
                        "cores, jobs and memory allow)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 (needs: pip install "
                        "'nst-tutorial[distributed]', and nst-tutorial on the workers)")
    p.add_argument("--no-score", action="store_true", help="do not score the pictures (scoring takes seconds each)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_settings(p)
    return p


def sweep_main(argv: list[str]) -> int:
    """`nst-tutorial sweep ...`"""
    args = build_sweep_parser().parse_args(argv)

    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt  # the sweep cancels what has not started

    # SIGINT too: a process started with it ignored (from a script, in the background) must still stop
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    results: list[JobResult] = []
    try:
        with ExitStack() as stack:
            todo = jobs(args.content, [s.split("+") if "+" in s else s for s in args.style],
                        configs(config_from_args(args), load_grid(args.grid) if args.grid else {}))
            executor = _executor(args, stack)
            where = f"the Dask cluster at {args.scheduler}" if args.scheduler else "local worker processes"
            _say(args, f"sweep: {len(todo)} jobs ({len(args.content)} content x {len(args.style)} style x "
                       f"{len(todo) // (len(args.content) * len(args.style))} settings) on {where}, into {args.out}/")
            for result in sweep(todo, executor, out=args.out, score=not args.no_score, progress=not args.quiet):
                results.append(result)
    except KeyboardInterrupt:
        _report(args, results)
        print(f"nst-tutorial sweep: stopped; {len(results)} finished, run the same command to go on",
              file=sys.stderr)
        return 128 + (received[-1] if received else signal.SIGINT)
    except NSTError as exc:
        print(f"nst-tutorial sweep: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    _report(args, results)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"nst-tutorial sweep: error: {r.job.name}: {r.error}", file=sys.stderr)
    return 2 if failed else 0


def _executor(args: argparse.Namespace, stack: ExitStack) -> Executor | None:
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ConfigError("--scheduler needs Dask: pip install 'nst-tutorial[distributed]'") from None
        try:
            client = stack.enter_context(Client(args.scheduler, timeout="10s"))
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {args.scheduler}: {exc}") from None
        return client.get_executor()
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {args.workers}")
        pool = local_pool(args.workers)
        # On Ctrl-C end the running jobs too, as the sweep's own pool does; else wait for them.
        stack.push(lambda kind, error, trace: shutdown(pool, complete=kind is None))
        return pool
    return None


def _report(args: argparse.Namespace, results: list[JobResult]) -> None:
    if not results:
        return
    sheet, csv_path, json_path = write_report(results, Path(args.out))
    done = sum(r.ok and not r.resumed for r in results)
    resumed = sum(r.resumed for r in results)
    _say(args, f"sweep: {done} solved, {resumed} already there, {len(results) - done - resumed} failed; "
               f"contact sheet {sheet}, table {csv_path} and {json_path}")


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)
