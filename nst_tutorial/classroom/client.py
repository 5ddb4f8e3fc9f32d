"""A page's line to the server: the HTTP routes of `web`, as calls (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ..errors import NSTError
from .requests import JobState, Request

KEY_HEADER = "X-Classroom-Key"


class ClassroomClient:
    """Calls to the classroom server at `url`, with the key only the server's kernels know."""

    def __init__(self, url: str, key: str, timeout: float = 10.0) -> None:
        self.url, self.key, self.timeout = url.rstrip("/"), key, timeout

    def setup(self) -> dict[str, Any]:
        """The class's settings: the largest size, each setting's default, the bundled pictures."""
        return self._json("GET", "/api/setup")

    def join(self) -> str:
        return self._json("POST", "/api/visitors")["visitor"]

    def status(self, visitor: str) -> list[JobState]:
        return [JobState.from_json(s) for s in self._json("GET", f"/api/visitors/{visitor}")["jobs"]]

    def job(self, visitor: str, job: str) -> JobState:
        return JobState.from_json(self._json("GET", f"/api/visitors/{visitor}/jobs/{job}"))

    def submit(self, visitor: str, request: Request) -> JobState:
        return JobState.from_json(self._json("POST", f"/api/visitors/{visitor}/jobs", request.to_json()))

    def forecast(self, visitor: str, settings: dict[str, Any]) -> dict[str, float]:
        return self._json("POST", f"/api/visitors/{visitor}/forecast", settings)

    def stop(self, visitor: str, job: str) -> JobState:
        return JobState.from_json(self._json("POST", f"/api/visitors/{visitor}/jobs/{job}/stop"))

    def picture(self, visitor: str, job: str) -> bytes:
        return self._call("GET", f"/api/visitors/{visitor}/jobs/{job}/picture")

    def leave(self, visitor: str) -> None:
        self._call("DELETE", f"/api/visitors/{visitor}")

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        return json.loads(self._call(method, path, body))

    def _call(self, method: str, path: str, body: Any = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={KEY_HEADER: self.key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            try:
                line = json.loads(exc.read())["error"]
            except (ValueError, KeyError):
                line = f"the class's server answered {exc.code} {exc.reason}"
            raise NSTError(line) from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise NSTError(f"cannot reach the class's server ({getattr(exc, 'reason', exc)}): "
                           "is `nst-tutorial serve` still running?") from None
