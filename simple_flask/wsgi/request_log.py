"""Request ids and the access log: one JSON line on stdout per request, written cheaply.

This is WSGI middleware, so it sees every response the app gives, errors
included, whatever serves the app (waitress, `flask run`, a test client).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The WSGI protocols exist for type checkers only.
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


from .access_line import access_line, logged_path, write_line
from .environ import AFTER_DELIVERY, DELIVERY, REQUEST_ID, faults_of

HEADER = "X-Request-ID"
# An incoming id is kept when it is short visible ASCII without " and \, so
# that it goes into a header, a log line and JSON as it is.
_USABLE_ID = re.compile(r"[!#-\[\]-~]{1,128}")

# The id of the request the current thread is serving, for application logs.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# 128 random bits per id without a system call per request: a generator seeded
# from os.urandom once, in this process. Ids are unique, not secret.
_random_bits = random.Random(os.urandom(32)).getrandbits  # noqa: S311
_clock = time.time
_timer = time.perf_counter


def request_id(incoming: str | None) -> str:
    """Return `incoming` if it is a usable request id, else a new random one."""
    if incoming and _USABLE_ID.fullmatch(incoming):
        return incoming
    # 16 bytes as 32 hex digits: cheaper than formatting the number with "032x".
    return _random_bits(128).to_bytes(16, "big").hex()


def _status_code(statuses: list[str]) -> int:
    """Return the code of the last status the app started, or 0 if it started none."""
    code = statuses[-1][:3] if statuses else ""
    return int(code) if code.isdigit() else 0


def _declared_length(headers: list[tuple[str, str]]) -> int:
    """Return the Content-Length among `headers`, or 0 without a usable one."""
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else 0
    return 0


class RequestIdFilter(logging.Filter):
    """Give every log record a `request_id` attribute: the current request's id, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the attribute and keep the record."""
        record.request_id = current_request_id.get() or "-"
        return True


class RequestLog:
    """WSGI middleware: give every request an id, return it in X-Request-ID, log the request."""

    def __init__(self, app: WSGIApplication, access_log: bool = True):
        self.app = app
        self.access_log = access_log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request through the wrapped app."""
        started = _clock()
        begin = _timer()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID] = rid
        current_request_id.set(rid)
        header = (HEADER, rid)
        statuses: list[str] = []
        # The headers of the answer started last, for a file's declared length.
        started_headers: list[tuple[str, str]] = []

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started_headers
            headers.append(header)
            statuses.append(status)
            started_headers = headers
            return start_response(status, headers, exc_info)

        if not self.access_log:
            return self.app(environ, start)
        try:
            body = self.app(environ, start)
        except BaseException:
            # The server answers 500 itself; the request is still logged.
            _LoggedBody((), environ, ["500"], started, begin, rid).close()
            raise
        if type(body) is environ.get("wsgi.file_wrapper"):
            # A file (a static asset of /docs) goes to the server unwrapped, as
            # PEP 3333 lets it send a file_wrapper its own way: waitress sends
            # it from the file, where a wrapped one would be copied into its
            # output buffer, and one over 1 MiB into a temporary file, which a
            # read-only root filesystem refuses. Its line is written now, with
            # the length it declared.
            logged = _LoggedBody((), environ, statuses, started, begin, rid)
            logged._size = _declared_length(started_headers)
            logged.close()
            return body
        return _LoggedBody(body, environ, statuses, started, begin, rid)


class _LoggedBody:
    """A response body that counts its bytes and writes the access-log line when closed."""

    __slots__ = ("_begin", "_body", "_closed", "_environ", "_id", "_size", "_started", "_statuses")

    def __init__(
        self,
        body: Iterable[bytes],
        environ: WSGIEnvironment,
        statuses: list[str],
        started: float,
        begin: float,
        rid: str,
    ):
        self._body = body
        self._environ = environ
        self._statuses = statuses
        self._started = started
        self._begin = begin
        self._id = rid
        self._size = 0
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        if (type(body) is list or type(body) is tuple) and len(body) == 1:
            # One chunk (as Flask's answers of known length and replayed
            # status answers come): counted now, and iterated without a
            # generator in between.
            self._size = len(body[0])
            return iter(body)
        return self._counted(body)

    def _counted(self, body: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        """Close the wrapped body (WSGI requires it) and log the request, once."""
        if self._closed:
            return
        self._closed = True
        try:
            body = self._body
            # A list or tuple has no close(); asking getattr() would raise and
            # discard an AttributeError on every such answer.
            if type(body) is not list and type(body) is not tuple:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        finally:
            environ = self._environ
            if DELIVERY in environ:
                # The answer leaves later, from the server's event loop (the app
                # marks one only for a server that says it does): so does its line.
                environ[AFTER_DELIVERY] = self._delivered
            else:
                # Written here rather than by a method: one call fewer a request.
                write_line(
                    access_line(
                        self._started,
                        environ.get("REQUEST_METHOD", ""),
                        logged_path(environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", "")),
                        _status_code(self._statuses),
                        (_timer() - self._begin) * 1000,
                        self._size,
                        environ.get("REMOTE_ADDR"),
                        self._id,
                        faults_of(environ),
                    )
                )
            current_request_id.set(None)

    def _delivered(self) -> None:
        """Write the line of an answer that left late, now that it has (see close())."""
        del self._environ[DELIVERY]
        self._closed = False
        self._body = ()
        self.close()
