"""Request ids and the access log: one JSON line on stdout per request, written cheaply.

This is WSGI middleware, so it sees every response the app gives, errors
included, whatever serves the app (waitress, `flask run`, a test client).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The WSGI protocols exist for type checkers only.
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from simple_flask_blueprint.core.http_facts import METHODS

from .environ import AFTER_DELIVERY, DELIVERY, REQUEST_ID, faults_of

HEADER = "X-Request-ID"
# An incoming id is kept when it is short visible ASCII without " and \, so
# that it goes into a header, a log line and JSON as it is.
_USABLE_ID = re.compile(r"[!#-\[\]-~]{1,128}")
# Paths longer than this are cut in the log, so one request cannot write a
# line of hundreds of KiB.
MAX_LOGGED_PATH = 1024
# Methods are cut the same way: a request line may hold a method of any length
# (waitress answers it 405 or 501, and it is logged all the same).
MAX_LOGGED_METHOD = 32
# Longest JSON text of the path and of the client address in a line: an escaped
# character takes up to 12 (\ud83d\ude00), so the quoted form is cut too, and a
# line stays under 3 KiB (a method of MAX_LOGGED_METHOD quotes to 12 times that).
MAX_QUOTED_PATH = 2 * MAX_LOGGED_PATH
MAX_QUOTED_CLIENT = 256

# The id of the request the current thread is serving, for application logs.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# JSONEncoder.encode quotes a str in C, with less overhead than json.dumps.
_encode = json.JSONEncoder().encode
_QUOTED_METHODS = {method: f'"{method}"' for method in METHODS}
_THOUSANDTHS = tuple(f"{number:03d}" for number in range(1000))
# 128 random bits per id without a system call per request: a generator seeded
# from os.urandom once, in this process. Ids are unique, not secret.
_random_bits = random.Random(os.urandom(32)).getrandbits  # noqa: S311
_clock = time.time
_timer = time.perf_counter
# (whole second, its ISO 8601 text): strftime runs once a second, not once a request.
_second: tuple[int, str] = (-1, "")


def request_id(incoming: str | None) -> str:
    """Return `incoming` if it is a usable request id, else a new random one."""
    if incoming and _USABLE_ID.fullmatch(incoming):
        return incoming
    # 16 bytes as 32 hex digits: cheaper than formatting the number with "032x".
    return _random_bits(128).to_bytes(16, "big").hex()


def _second_text(whole: int) -> str:
    """Return the ISO 8601 text of the whole second `whole`, formatting it once a second."""
    global _second
    cached = _second
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        # One tuple is swapped in at once, so threads never see half an update.
        _second = cached
    return cached[1]


def logged_method(method: str) -> str:
    """Return the request method for the log, cut short."""
    return method if len(method) <= MAX_LOGGED_METHOD else method[:MAX_LOGGED_METHOD] + "..."


def _quote_within(text: str | None, limit: int) -> str:
    """Return `text` as a JSON string of at most about `limit` characters, cut with "..."."""
    quoted = _encode(text)
    # None quotes as "null", which is always short: the loop only sees text.
    while text is not None and len(quoted) > limit:
        # Escapes make the quoted text longer than the text; cutting in
        # proportion converges in a step or two.
        text = text[: max(0, len(text) * limit // len(quoted) - 8)]
        quoted = _encode(text + "...")
    return quoted


def logged_path(script_name: str, path_info: str) -> str:
    """Return the request path for the log: WSGI's latin-1 text read back as UTF-8, cut short."""
    path = script_name + path_info
    if not path.isascii():
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def access_line(
    started: float,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    size: int,
    client: str | None,
    request_id: str,
    faults: tuple[str, ...] = (),
) -> str:
    """Format one access-log line: a JSON object and a newline.

    `faults` are those the answer carried on purpose (see .environ), named in
    a "fault" field: "reset", "stall+truncate"; the field is left out without one.
    """
    # One f-string instead of json.dumps of a dict: the numbers and the
    # validated request id need no escaping, and the strings are quoted by
    # JSON's encoder only when they hold something to escape (string methods
    # tell, at half the cost of a regular expression on short text).
    whole = int(started)
    # The second's text is formatted once a second (see _second_text).
    second = _second
    second_text = second[1] if second[0] == whole else _second_text(whole)
    method = _QUOTED_METHODS.get(method) or _encode(logged_method(method))
    if path.isascii() and path.isprintable() and '"' not in path and "\\" not in path:
        quoted_path = f'"{path}"'
    else:
        quoted_path = _encode(path)
    if len(quoted_path) > MAX_QUOTED_PATH:
        quoted_path = _quote_within(path, MAX_QUOTED_PATH)
    if (
        client is not None
        and client.isascii()
        and client.isprintable()
        and '"' not in client
        and "\\" not in client
        and len(client) <= MAX_QUOTED_CLIENT
    ):
        client = f'"{client}"'
    else:
        client = _quote_within(client, MAX_QUOTED_CLIENT)
    # Milliseconds and microseconds are written from a table of "000" to
    # "999": formatting a float or a padded integer costs more.
    micros = round(duration_ms * 1000)
    return (
        f'{{"time":"{second_text}.{_THOUSANDTHS[int((started - whole) * 1000)]}Z",'
        f'"method":{method},"path":{quoted_path},'
        f'"status":{status},"duration_ms":{micros // 1000}.{_THOUSANDTHS[micros % 1000]},'
        f'"bytes":{size},"client":{client},"request_id":"{request_id}"'
        + (f',"fault":"{"+".join(faults)}"}}\n' if faults else "}\n")
    )


def write_line(line: str) -> None:
    """Write one log line to stdout with a single write; a closed stdout loses the line."""
    try:
        sys.stdout.write(line)
    except (OSError, ValueError):
        # The response has gone out already; a log that cannot be written must
        # not turn it into an error.
        pass


def _status_code(statuses: list[str]) -> int:
    """Return the code of the last status the app started, or 0 if it started none."""
    code = statuses[-1][:3] if statuses else ""
    return int(code) if code.isdigit() else 0


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

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            headers.append(header)
            statuses.append(status)
            return start_response(status, headers, exc_info)

        if not self.access_log:
            return self.app(environ, start)
        try:
            body = self.app(environ, start)
        except BaseException:
            # The server answers 500 itself; the request is still logged.
            _LoggedBody((), environ, ["500"], started, begin, rid).close()
            raise
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
