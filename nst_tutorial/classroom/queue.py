"""The fair queue: visitors take turns, so five presses of Run do not push everyone back five places."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque


class FairQueue:
    """Jobs waiting for a worker, served round robin over visitors, each visitor's own in order.

    A visitor joins the end of the round with their first waiting job, and goes back to the
    end after each job served. Thread-safe.
    """

    def __init__(self) -> None:
        self._lines: OrderedDict[str, deque[str]] = OrderedDict()  # visitor -> their waiting jobs
        self._lock = threading.Lock()

    def put(self, visitor: str, job: str) -> None:
        with self._lock:
            self._lines.setdefault(visitor, deque()).append(job)

    def take(self) -> tuple[str, str] | None:
        """(visitor, job) whose turn it is, taken out of the queue; None when empty."""
        with self._lock:
            if not self._lines:
                return None
            visitor, line = self._lines.popitem(last=False)
            job = line.popleft()
            if line:
                self._lines[visitor] = line  # back to the end of the round
            return visitor, job

    def remove(self, job: str) -> bool:
        """Take one waiting job out (a Stop before it ran); False if it was not waiting."""
        with self._lock:
            for visitor, line in list(self._lines.items()):
                if job in line:
                    line.remove(job)
                    if not line:
                        del self._lines[visitor]
                    return True
            return False

    def remove_visitor(self, visitor: str) -> list[str]:
        """Every waiting job of a visitor who left, taken out."""
        with self._lock:
            return list(self._lines.pop(visitor, ()))

    def order(self) -> list[str]:
        """The waiting jobs in the order they will run: round 1 (each visitor's first), round 2, ..."""
        with self._lock:
            lines = [list(line) for line in self._lines.values()]
        depth = max(map(len, lines), default=0)
        return [line[k] for k in range(depth) for line in lines if k < len(line)]

    def position(self, job: str) -> int | None:
        """1 for the next job to run; None if the job is not waiting."""
        order = self.order()
        return order.index(job) + 1 if job in order else None

    def __len__(self) -> int:
        with self._lock:
            return sum(map(len, self._lines.values()))
