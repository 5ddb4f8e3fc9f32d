"""The HTTP routes: the pages' API (behind the server's key) and the teacher's view (behind a token)."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from dataclasses import fields
from typing import Any

import tornado.web

from ..data import bundled_images
from ..errors import NSTError
from .client import KEY_HEADER
from .requests import SETTINGS, Request
from .room import Classroom
from .teacher import TEACHER_PAGE


class Api(tornado.web.RequestHandler):
    """A route of the pages' API: only the server's own kernels hold the key."""

    def initialize(self, room: Classroom, key: str) -> None:
        self.room, self.key = room, key

    def prepare(self) -> None:
        if not hmac.compare_digest(self.request.headers.get(KEY_HEADER, ""), self.key):
            raise tornado.web.HTTPError(403)

    def body(self) -> Any:
        return json.loads(self.request.body or b"null")

    def reply(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        line = str(exc) if isinstance(exc, NSTError) else self._reason
        self.finish({"error": line})

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, NSTError):  # a visitor's mistake: one line back, no traceback in the log
            self.send_error(400, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


class Setup(Api):
    def get(self) -> None:
        defaults = {f.name: getattr(self.room.config, f.name) for f in fields(self.room.config) if f.name in SETTINGS}
        self.reply({"max_size": self.room.max_size, "defaults": {**defaults, "size": min(defaults["size"],
                                                                                     self.room.max_size)},
                    "images": bundled_images()})


class Visitors(Api):
    def post(self) -> None:
        self.reply({"visitor": self.room.join()})


class VisitorJobs(Api):
    def get(self, visitor: str) -> None:
        self.reply({"jobs": [s.to_json() for s in self.room.status(visitor)]})

    def post(self, visitor: str) -> None:
        self.reply(self.room.submit(visitor, Request.from_json(self.body())).to_json())

    def delete(self, visitor: str) -> None:
        self.room.leave(visitor)
        self.reply({})


class Forecast(Api):
    def post(self, visitor: str) -> None:
        self.room.status(visitor)  # only a known visitor may ask
        self.reply(self.room.forecast(self.body()))


class OneJob(Api):
    def get(self, visitor: str, job: str) -> None:
        self.reply(self.room.job(visitor, job).to_json())


class Stop(Api):
    def post(self, visitor: str, job: str) -> None:
        self.reply(self.room.stop(visitor, job).to_json())


class Picture(Api):
    def get(self, visitor: str, job: str) -> None:
        image = self.room.picture(visitor, job)
        if image is None:
            raise NSTError("no picture yet")
        self.set_header("Content-Type", "image/png")
        self.finish(image)


class Teacher(tornado.web.RequestHandler):
    """The teacher's view: behind the token printed when the server starts."""

    def initialize(self, room: Classroom, token: str) -> None:
        self.room, self.token = room, token

    def prepare(self) -> None:
        if not hmac.compare_digest(self.get_query_argument("token", ""), self.token):
            raise tornado.web.HTTPError(403, reason="the teacher's view needs the token printed at start")


class TeacherPage(Teacher):
    def get(self) -> None:
        self.finish(TEACHER_PAGE)


class TeacherState(Teacher):
    def get(self) -> None:
        self.finish(self.room.overview())


class TeacherPicture(Teacher):
    def get(self, key: str) -> None:
        visitor = self.room.visitor_by_key(key)
        image = None if visitor is None else self.room.latest(visitor)
        if image is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")
        self.finish(image)


class TeacherArchive(Teacher):
    def get(self) -> None:
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", 'attachment; filename="class-pictures.zip"')
        self.finish(self.room.archive())


def application(room: Classroom, key: str, token: str) -> tornado.web.Application:
    api, teacher = {"room": room, "key": key}, {"room": room, "token": token}
    visitor, job = r"/api/visitors/([0-9a-f]+)", r"/jobs/([0-9a-f]+)"
    return tornado.web.Application([
        (r"/api/setup", Setup, api), (r"/api/visitors", Visitors, api), (visitor, VisitorJobs, api),
        (visitor + r"/jobs", VisitorJobs, api), (visitor + r"/forecast", Forecast, api),
        (visitor + job, OneJob, api), (visitor + job + r"/stop", Stop, api),
        (visitor + job + r"/picture", Picture, api),
        (r"/teacher", TeacherPage, teacher), (r"/teacher/state", TeacherState, teacher),
        (r"/teacher/pictures/([0-9a-f]+)\.png", TeacherPicture, teacher),
        (r"/teacher/pictures\.zip", TeacherArchive, teacher),
    ], websocket_ping_interval=None)


def serve_in_thread(app: tornado.web.Application, port: int, address: str) -> threading.Thread:
    """Serve `app` on its own event loop in a daemon thread; returns once it listens."""
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            app.listen(port, address)
        except OSError as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="classroom-web", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise NSTError(f"cannot listen on port {port}: {failure[0]}")
    return thread
