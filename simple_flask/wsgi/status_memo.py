"""A memo of the status service's deterministic answers, replayed without going through Flask.

`GET` or `HEAD /status/<three digits>` with no query string always gets the
same answer for the same Accept and Origin headers: the memo keeps the
complete answer the app gave the first time (status line, headers, body) and
replays it to later identical requests. Lists of codes, ?seed=, ?sleep= and
?location= never reach it.

A replayed answer does not go through Flask at all: an app's before_request,
after_request and teardown_request functions and Flask's signals run for the
first request of each kind only (docs/blueprints.md says so to host app
authors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..core.memo import BoundedMemo
from .environ import STATUS_REPLAYABLE

if TYPE_CHECKING:
    # The WSGI protocols exist for type checkers only.
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Answers kept at most, and the largest body kept. Accept and Origin come
# from clients, so the memo is bounded and long values are not kept at all.
MEMO_SIZE = 512
MAX_BODY = 4096
MAX_KEY = 512
# Request headers that change an answer besides Accept and Origin (a private
# network CORS request), or that a status answer does not expect (a body).
_UNUSUAL = (
    "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK",
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_COOKIE",
)

Answer = tuple[str, tuple[tuple[str, str], ...], bytes]


class StatusMemo:
    """WSGI middleware: answer a repeated single-code status request from the memo."""

    def __init__(self, app: WSGIApplication, *, prefix: str, size: int = MEMO_SIZE):
        """Wrap `app`, whose status blueprint answers under `prefix` (such as "/status/")."""
        self.app = app
        self.prefix = prefix
        self.answers: BoundedMemo = BoundedMemo(size)

    def key(self, environ: WSGIEnvironment) -> tuple[object, ...] | None:
        """Return the memo key of a request the memo may answer, or None."""
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return None
        path = environ.get("PATH_INFO", "")
        prefix = self.prefix
        if (
            len(path) != len(prefix) + 3
            or not path.startswith(prefix)
            or not path[-3:].isdigit()
            or not path[-3:].isascii()
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
        ):
            return None
        for name in _UNUSUAL:
            if name in environ:
                return None
        accept = environ.get("HTTP_ACCEPT")
        origin = environ.get("HTTP_ORIGIN")
        if len(accept or "") + len(origin or "") > MAX_KEY:
            return None
        return (method, environ.get("SCRIPT_NAME", ""), path, accept, origin)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Replay a kept answer, or serve the request through the app and keep its answer."""
        key = self.key(environ)
        if key is None:
            return self.app(environ, start_response)
        answer = self.answers.get(key)
        if answer is not None:
            status, headers, body = answer
            # A new list each time: the server (and RequestLog) append to it.
            start_response(status, list(headers))
            return (body,) if body else ()
        return self._record(key, environ, start_response)

    def _record(
        self, key: tuple[object, ...], environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve through the app, reading its short body whole, and keep the answer if it may be."""
        started: list[tuple[str, tuple[tuple[str, str], ...], object]] = []

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            started.append((status, tuple(headers), exc_info))
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        try:
            chunks = list(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        data = b"".join(chunks)
        if (
            len(started) == 1
            and started[0][2] is None
            # Only answers the app marked (see .environ): never an error's 500,
            # nor one that varies (a list, a seed).
            and environ.get(STATUS_REPLAYABLE)
            and len(data) <= MAX_BODY
            and not any(name.lower() == "set-cookie" for name, _ in started[0][1])
        ):
            self.answers.keep(key, (started[0][0], started[0][1], data))
        return (data,) if data else ()
