"""`nst-tutorial serve`: the Evaluator for a whole class, one URL, solves in fair turns on a Dask pool."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..batch.pool import cores
from ..errors import NSTError
from .options import Parser, add_settings, config_from_args

DEFAULT_LARGEST = 512
APP = Path(__file__).resolve().parents[1] / "classroom" / "app.ipynb"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="nst-tutorial serve", formatter_class=argparse.RawDescriptionHelpFormatter,
               description=textwrap.fill(
                   "Serve the Evaluator to a class: one URL for every student, each page its own (Voilà), every "
                   "Run solved on a Dask worker pool in fair turns (one visitor's five Runs do not push the others "
                   "back five places). A teacher's view, behind a token printed at start, shows the queue and "
                   "every student's newest picture. Needs the classroom extra: pip install 'nst-tutorial[classroom]'. "
                   "The settings below are the class's defaults.", 79))
    p.add_argument("--port", type=int, default=8866, help="the students' page (default: 8866); the teacher's view "
                                                          "and the pages' API use the next port")
    p.add_argument("--ip", default="0.0.0.0", help="the address to listen on: 0.0.0.0 (default) for the class's "
                                                   "network, 127.0.0.1 for this machine only")
    p.add_argument("--workers", type=int, help="worker processes of the local pool (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="send the solves to this existing Dask cluster (tcp://host:8786) instead of a local pool; "
                        "its workers need nst-tutorial installed")
    add_settings(p, size_help=f"the largest picture a student may ask for, in pixels (default: {DEFAULT_LARGEST}); "
                              "the page starts at 256 or this, whichever is smaller")
    return p


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        from distributed import Client, LocalCluster

        from ..classroom.room import Classroom
        from ..classroom.web import application, serve_in_thread
    except ImportError as exc:
        print(f"nst-tutorial serve: error: {exc.name} is missing; install the classroom extra: "
              "pip install 'nst-tutorial[classroom]'", file=sys.stderr)
        return 2
    largest = args.size or DEFAULT_LARGEST
    config = config_from_args(args)
    config = replace(config, size=min(config.size if args.size is None else 256, largest))
    folder = Path(tempfile.mkdtemp(prefix="nst-classroom-"))
    stopping = threading.Event()
    started: list[Any] = []  # what to stop, last first

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    # The pool's processes start with Ctrl-C ignored (they inherit that): the terminal sends it to
    # every process in its group, and serve, not each worker, decides how they stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    try:
        if args.scheduler:
            try:
                client = Client(args.scheduler, timeout=10)
            except (OSError, ValueError) as exc:
                raise NSTError(f"cannot reach a Dask scheduler at {args.scheduler}: {exc}") from None
            started.append(client)
            slots, threads = sum(client.nthreads().values()), 1
            where = f"the Dask cluster at {args.scheduler}"
        else:
            workers = args.workers or cores()
            threads = max(1, cores() // workers)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=50)
            client = Client(cluster)
            started += [cluster, client]
            slots, where = workers, f"{workers} local worker process(es) x {threads} thread(s)"
        signal.signal(signal.SIGINT, stop)
        room = Classroom(client, config, largest, slots, threads, folder).start()
        started.append(room)
        key, token = secrets.token_hex(16), secrets.token_urlsafe(12)
        serve_in_thread(application(room, key, token), args.port + 1, args.ip)
        voila = start_voila(args.port, args.ip, f"http://127.0.0.1:{args.port + 1}", key, folder)
        started.append(voila)
        host = public_host(args.ip)
        print(f"nst-tutorial serve: give the class  http://{host}:{args.port}/\n"
              f"                    teacher's view  http://{host}:{args.port + 1}/teacher?token={token}\n"
              f"                    painting on {where}, up to {largest} px; Ctrl-C stops", flush=True)
        while not stopping.wait(0.5):
            if voila.poll() is not None:
                raise NSTError(f"the page server (Voilà) exited with {voila.returncode}: "
                               f"see {folder / 'voila.log'}")
        painted = sum(1 for _ in folder.rglob("*.png"))
        print(f"nst-tutorial serve: stopped (visitors: {len(room.visitors)}, pictures painted: {painted}); "
              "the uploads and pictures are removed", flush=True)
        return 0
    except (NSTError, OSError) as exc:
        print(f"nst-tutorial serve: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for thing in reversed(started):
            close(thing)
        shutil.rmtree(folder, ignore_errors=True)


def start_voila(port: int, ip: str, api: str, key: str, folder: Path) -> subprocess.Popen[bytes]:
    """Voilà serving the page, each visitor's kernel told where the API is; returns once it listens."""
    env = {**os.environ, "NST_CLASSROOM_URL": api, "NST_CLASSROOM_KEY": key, "OMP_NUM_THREADS": "1"}
    log = (folder / "voila.log").open("wb")
    voila = subprocess.Popen([sys.executable, "-m", "voila", str(APP), f"--port={port}", f"--Voila.ip={ip}",
                              "--no-browser", "--theme=light", "--show_tracebacks=False",
                              # A closing tab asks Voilà to shut its kernel down with a beacon that
                              # carries the _xsrf cookie, which Voilà never sets: refused with 403,
                              # the kernel (and its Run) lived on. The pages need no login, so the
                              # check guards nothing here.
                              "--Voila.tornado_settings={'disable_check_xsrf': True}",
                              # A page gone without that beacon (a crashed browser, a closed laptop):
                              # its kernel, no longer connected, is shut down after a quiet minute.
                              "--MappingKernelManager.cull_idle_timeout=60", "--MappingKernelManager.cull_interval=20",
                              "--MappingKernelManager.cull_connected=False"],
                             env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if voila.poll() is not None:
            raise NSTError(f"the page server (Voilà) did not start: {tail(folder / 'voila.log')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return voila
        except OSError:
            time.sleep(0.3)
    voila.kill()
    raise NSTError(f"the page server (Voilà) did not listen on port {port} within 60 s")


def close(thing: Any) -> None:
    """Stop what serve started: Voilà (and with it the visitors' kernels), the room, the pool."""
    if isinstance(thing, subprocess.Popen):
        if thing.poll() is None:
            thing.terminate()  # Voilà shuts its kernels down on SIGTERM
            try:
                thing.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(thing.pid, signal.SIGKILL)
        return
    try:
        thing.close()
    except Exception:  # noqa: BLE001 - shutting down: the others must still close
        pass


def public_host(ip: str) -> str:
    """The address to print: this machine's address on the network for 0.0.0.0, else `ip`."""
    if ip not in ("0.0.0.0", ""):
        return ip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # picks the outgoing interface; sends nothing
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " / ".join(text[-lines:]) or "no output"
