"""A memo of the status service's deterministic answers, replayed without going through Flask.

`GET` or `HEAD /status/<three digits>` with no query string always gets the
same answer for the same Accept and Origin headers: the memo keeps the
complete answer the app gave the first time (status line, headers, body) and
replays it to later identical requests. So does one with `?sleep=<ms>` alone
under a server that waits out delays itself (server_defers(), see .environ): the memo
keeps the answer's Delivery with it and hands it to the server again. Lists
of codes and every other query parameter never reach it: a crowd of sleepers
costs the server a replay each, not a pass through Flask.

With the app's sequence store, `GET` or `HEAD /status/<codes>?sequence=<key>`
(plain codes, no other parameter) is answered here too: the memo takes the
attempt from the store as the view would, and replays the answer of the
code it falls on with its X-Sequence-Attempt header, so that a sequence
costs less than a greeting. Whatever it cannot answer goes to the app, with
the attempt it took, if any, in the environ (SEQUENCE_TAKEN), so that no
attempt is taken twice.

A replayed answer does not go through Flask at all: an app's before_request,
after_request and teardown_request functions and Flask's signals run for the
first request of each kind only (docs/blueprints.md says so to host app
authors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..core.entries import binding, entry_at, parse_list
from ..core.errors import SequenceConflict, StatusError, StoreUnavailable
from ..core.memo import BoundedMemo
from ..core.sequences import ATTEMPT_HEADER, SequenceStore, parse_key
from .environ import DELIVERY, SEQUENCE_TAKEN, STATUS_REPLAYABLE, Delivery, server_defers

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

# The status line, headers and body, and when the answer leaves (None: at once).
Answer = tuple[str, tuple[tuple[str, str], ...], bytes, Delivery | None]
# The one query string the memo keys by: a fixed sleep, of at most five digits.
_SLEEP = "sleep="
_SEQUENCE = "sequence="
# Key characters that read the same before and after percent-decoding.
_PLAIN_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")


def _fixed_sleep(query: str) -> bool:
    """Tell whether `query` is "sleep=<ms>" alone."""
    digits = query[len(_SLEEP) :]
    return (
        query.startswith(_SLEEP) and 0 < len(digits) <= 5 and digits.isdigit() and digits.isascii()
    )


class StatusMemo:
    """WSGI middleware: answer a repeated single-code status request from the memo."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        prefix: str,
        size: int = MEMO_SIZE,
        store: SequenceStore | None = None,
    ):
        """Wrap `app`, whose status blueprint answers under `prefix` (such as "/status/").

        `store` is the blueprint's sequence store; without it sequences go to the app.
        """
        self.app = app
        self.prefix = prefix
        self.answers: BoundedMemo = BoundedMemo(size)
        self.store = store

    def key(self, environ: WSGIEnvironment) -> tuple[object, ...] | None:
        """Return the memo key of a request the memo may answer, or None.

        A sequence's key names its codes and its key in place of a path; see
        _sequence().
        """
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return None
        path = environ.get("PATH_INFO", "")
        prefix = self.prefix
        if not path.startswith(prefix) or environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
            return None
        query = environ.get("QUERY_STRING", "")
        codes = path[len(prefix) :]
        if query.startswith(_SEQUENCE) and self.store is not None:
            sequence = query[len(_SEQUENCE) :]
            if not (sequence and _PLAIN_KEY.issuperset(sequence)):
                return None
        elif len(codes) != 3 or not codes.isdigit() or not codes.isascii():
            return None
        elif query and not (_fixed_sleep(query) and server_defers()):
            return None
        else:
            sequence = None
        for name in _UNUSUAL:
            if name in environ:
                return None
        accept = environ.get("HTTP_ACCEPT")
        origin = environ.get("HTTP_ORIGIN")
        if len(accept or "") + len(origin or "") > MAX_KEY:
            return None
        script = environ.get("SCRIPT_NAME", "")
        if sequence is not None:
            return (_SEQUENCE, method, script, codes, sequence, accept, origin)
        return (method, script, path, query, accept, origin)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Replay a kept answer, or serve the request through the app and keep its answer."""
        key = self.key(environ)
        if key is None:
            return self.app(environ, start_response)
        if key[0] is _SEQUENCE:
            return self._sequence(key, environ, start_response)
        answer = self.answers.get(key)
        if answer is not None:
            status, headers, body, delivery = answer
            if delivery is not None:
                environ[DELIVERY] = delivery
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
            self.answers.keep(key, (started[0][0], started[0][1], data, environ.get(DELIVERY)))
        return (data,) if data else ()

    def _sequence(
        self, key: tuple[object, ...], environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Take the next attempt of a sequence of plain codes and replay its code's answer."""
        _, method, script, codes, sequence, accept, origin = key
        assert self.store is not None and isinstance(codes, str) and isinstance(sequence, str)
        try:
            entries = parse_list(codes, in_order=True)
            parse_key(sequence)
        except StatusError:
            return self.app(environ, start_response)
        if not all(type(entry.outcome) is int and not entry.options for entry in entries):
            return self.app(environ, start_response)
        sent = [str(entry) for entry in entries]
        try:
            taken = self.store.take(sequence, binding(entries), sent, str(method))
        except SequenceConflict:
            # Nothing was taken: the view refuses it the same way (409).
            return self.app(environ, start_response)
        except StoreUnavailable as error:
            environ[SEQUENCE_TAKEN] = error
            return self.app(environ, start_response)
        path = f"{self.prefix}{entry_at(entries, taken.number)}"
        code_key = (method, script, path, "", accept, origin)
        answer = self.answers.get(code_key) or self._code_answer(code_key, environ, path)
        if answer is None:
            environ[SEQUENCE_TAKEN] = taken
            return self.app(environ, start_response)
        status, headers, body, _ = answer
        start_response(status, [*headers, (ATTEMPT_HEADER, str(taken.number))])
        return (body,) if body else ()

    def _code_answer(
        self, key: tuple[object, ...], environ: WSGIEnvironment, path: str
    ) -> Answer | None:
        """Ask the app for the answer of the plain code at `path`, once, to keep it."""
        plain = {**environ, "PATH_INFO": path, "QUERY_STRING": ""}
        self._record(key, plain, lambda status, headers, exc_info=None: _ignored)
        answer: Answer | None = self.answers.get(key)
        return answer


def _ignored(data: bytes) -> None:
    """The write() of an answer asked for only to be kept."""
