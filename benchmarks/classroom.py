"""A class of visitors on `nst-tutorial serve`: memory, waits against a fair share, throughput.

Visitors are real pages: headless Chromium contexts (one each, as separate students are) on the
server's URL, each with its own Voilà kernel. The server's memory is the resident memory of its
whole process tree (serve, Voilà, every visitor's kernel, the Dask workers), not the browser's.

    python benchmarks/classroom.py                  # 30 visitors, 10 of them solving, 128 px
    python benchmarks/classroom.py --smoke          # 2 visitors, 1 solving, 48 px: that it runs
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    """A free port whose next one is free too: serve's teacher's view listens there."""
    while True:
        with socket.socket() as s, socket.socket() as t:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


def tree_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of processes and their descendants, so far."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def browser_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["name", "ppid"]) if "chrom" in (p.info["name"] or "")
            and "chrom" not in (psutil.Process(p.info["ppid"]).name() if p.info["ppid"] else "")]


def settle(pid: int, seconds: float = 4.0) -> float:
    time.sleep(seconds)
    return tree_mb(pid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visitors", type=int, default=30)
    ap.add_argument("--solving", type=int, default=10, help="visitors who press Run; the first presses it 3 times")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path(__file__).with_name("classroom.json"))
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.visitors, args.solving, args.size = 2, 1, 48
    extra = ["--scales", "1", "--iterations", "5"] if args.smoke else []
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "nst_tutorial", "serve", "--port", str(port), "--ip", "127.0.0.1",
                              "--size", str(args.size), "--workers", str(args.workers), *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    head = "".join(serve.stdout.readline() for _ in range(3))
    teacher = re.search(r"(http://\S+/teacher\?token=\S+)", head)
    if teacher is None:
        sys.exit(f"serve did not start:\n{head}")
    url = f"http://127.0.0.1:{port}/"
    memory = {"server, no visitor": settle(serve.pid)}
    marks = sorted({1, min(10, args.visitors), args.visitors})
    result: dict = {"visitors": args.visitors, "size": args.size, "workers": args.workers, "browser": "Chromium"}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            pages = []
            start = time.perf_counter()
            for n in range(1, args.visitors + 1):
                page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
                page.goto(url, timeout=180_000)
                expect(page.locator(".widget-button", has_text="Run")).to_be_visible(timeout=180_000)
                pages.append(page)
                if n in marks:
                    memory[f"{n} idle visitor(s)"] = settle(serve.pid)
                    print(f"{n} visitors: {memory[f'{n} idle visitor(s)']:,.0f} MB", flush=True)
            result["seconds to open every page"] = time.perf_counter() - start
            solving = pages[: args.solving]
            presses = [solving[0]] * (3 if args.solving > 1 else 1) + solving[1:]
            started = time.perf_counter()
            cpu_before = cpu_seconds([serve.pid]), cpu_seconds(browser_pids())
            for page in presses:
                page.locator(".widget-button", has_text="Run").click()
                page.wait_for_timeout(300)  # the server hears each press before the next
            peak = 0.0
            state: dict = {}
            while time.perf_counter() - started < 1800:
                peak = max(peak, tree_mb(serve.pid))
                state = json.loads(urllib.request.urlopen(teacher.group(1).replace("/teacher?", "/teacher/state?"))
                                   .read())
                jobs = [j for v in state["visitors"] for j in v["jobs"]]
                if len(jobs) == len(presses) and all(j["status"] in ("done", "stopped", "failed") for j in jobs):
                    break
                time.sleep(0.5)
            result["class seconds"] = time.perf_counter() - started
            result["cpu seconds while solving: server tree, browser"] = [
                cpu_seconds([serve.pid]) - cpu_before[0], cpu_seconds(browser_pids()) - cpu_before[1]]
            memory[f"{len(pages)} visitors, {args.solving} solving (peak)"] = peak
            browser.close()
    finally:
        serve.send_signal(2)
        result["serve's last line"] = serve.communicate(timeout=120)[0].strip().splitlines()[-1]
    jobs = [dict(j, visitor=v["visitor"]) for v in state["visitors"] for j in v["jobs"]]
    per_job = statistics.mean(j["ran"] for j in jobs)
    for j in jobs:  # the fair share: its round of the queue (position / workers), each round a job's time
        j["fair share"] = -(-j["queued_at"] // args.workers) * per_job if j["waited"] > 1 else 0.0
    result.update(memory_mb=memory, jobs=jobs, seconds_per_job=per_job)
    result["jobs per minute, class"] = 60 * len(jobs) / result["class seconds"]
    if not args.smoke:
        result["one process in a row"] = in_a_row(len(jobs), args.size)
        result["jobs per minute, one process"] = 60 * len(jobs) / result["one process in a row"]
    args.json.write_text(json.dumps(result, indent=1))
    print(report(result))


def in_a_row(count: int, size: int) -> float:
    """Seconds for one process, all cores, to paint the same jobs one after another."""
    import nst_tutorial as nt
    from nst_tutorial.data import CONTENT, STYLE, image_path

    config = nt.Config(size=size)
    start = time.perf_counter()
    for _ in range(count):
        nt.stylize(image_path(CONTENT), image_path(STYLE), config, progress=False)
    return time.perf_counter() - start


def report(r: dict) -> str:
    lines = [f"{r['visitors']} visitors at {r['size']} px on {r['workers']} workers"]
    lines += [f"  memory, {k}: {v:,.0f} MB" for k, v in r["memory_mb"].items()]
    if "cpu seconds while solving: server tree, browser" in r:
        server, browser = r["cpu seconds while solving: server tree, browser"]
        lines.append(f"  CPU while solving: {server:.0f} s in the server's processes, {browser:.0f} s in the "
                     f"browser's, over {r['class seconds']:.0f} s")
    lines.append(f"  {len(r['jobs'])} jobs, {r['seconds_per_job']:.1f} s each on a worker; "
                 f"{r['jobs per minute, class']:.1f} jobs/min for the class")
    if "one process in a row" in r:
        lines.append(f"  one process, the same jobs in a row: {r['jobs per minute, one process']:.1f} jobs/min")
    lines += [f"  visitor {j['visitor']:>2}: position {j['queued_at']:>2}, waited {j['waited']:6.1f} s, "
              f"fair share {j['fair share']:6.1f} s" for j in r["jobs"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
