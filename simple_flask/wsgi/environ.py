"""The WSGI environ keys through which the app, its middleware and the server speak.

The app answers every request; a few answers need more of what is around it:
the server must drop a connection, the status memo may replay an answer, the
CORS layer must expose one more header. Each such fact travels in the
request's environ under one of these keys, always set and read through the
functions below, so that each key has one meaning and one owner:

- REQUEST_ID, a str: the request's id. RequestLog sets it; views and the
  access log read it.
- FAULTS, a tuple of simple_flask.core.status_faults.Fault in the order they
  were marked: the faults the answer carries on purpose. RESET or CLOSE ask
  the server to send no byte of the answer and drop the connection (RST or
  FIN); the app still answers, with a stand-in (501) that a server unable to
  drop connections sends as it is. TRUNCATE marks a body cut short on
  purpose, so that the server does not warn about it; STALL needs nothing
  from the server. RequestLog names them in the access log's "fault" field.
- STATUS_REPLAYABLE, True: the answer depends on nothing but what StatusMemo
  keys it by, so the memo may keep and replay it. Absent for any other answer.
- EXPOSE_HEADERS, a tuple of header names: headers of this one answer that a
  page on an allowed origin may read, besides the configured ones.
- DELIVERY, a Delivery: when the answer leaves. The app sets it only where
  server_defers() says the server will honour it; elsewhere the app waits
  itself.
- AFTER_DELIVERY, a callable: what the server calls once a late answer has
  left (RequestLog writes the access-log line then).
- SEQUENCE_TAKEN, a core.sequences.Taken or a core.errors.StoreUnavailable:
  the attempt StatusMemo took (or failed to take) for a sequence request it
  hands to the app; the view answers that attempt rather than take another.

Whether the server delivers a Delivery itself, in its event loop without
holding a worker thread, is no key: the service's server says so for the
worker thread serving the request (set_server_defers()), which spares every
request a key in its environ (measured: 1,800 machine instructions a request,
the environ outgrowing its table). A worker thread serves one server only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.status_faults import Fault

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

REQUEST_ID = "simple_flask.request_id"
FAULTS = "simple_flask.faults"
STATUS_REPLAYABLE = "simple_flask.status_replayable"
EXPOSE_HEADERS = "simple_flask.expose_headers"
DELIVERY = "simple_flask.delivery"
AFTER_DELIVERY = "simple_flask.after_delivery"
SEQUENCE_TAKEN = "simple_flask.sequence_taken"
# A paced body goes out in pieces this often.
PACE_SECONDS = 0.05
# The faults the server answers in place of the app's answer.
SERVER_FAULTS = frozenset(
    {Fault.RESET, Fault.CLOSE, Fault.GARBAGE, Fault.BAD_CHUNK, Fault.CUT_HEAD}
)


@dataclass(frozen=True)
class Delivery:
    """When an answer leaves: `wait` seconds before its head, `stall` more before its body,
    and its body at `rate` bytes per second (None: at once)."""

    wait: float = 0.0
    stall: float = 0.0
    rate: int | None = None

    def seconds(self, body_length: int) -> float:
        """Return how long the delivery of a body of `body_length` bytes takes, at least."""
        return self.wait + self.stall + (body_length / self.rate if self.rate else 0.0)

    def paced(self, body: bytes) -> Iterator[tuple[float, bytes]]:
        """Split `body` for its rate: (seconds after the stall when it is due, piece).

        A piece leaves when a line of `rate` bytes a second would have sent
        its last byte; without a rate the body is one piece, due at once.
        """
        rate = self.rate
        if rate is None:
            yield 0.0, body
            return
        step = max(1, int(rate * PACE_SECONDS))
        for start in range(0, len(body), step):
            piece = body[start : start + step]
            yield (start + len(piece)) / rate, piece


# The server serving this thread's requests: its `defers` attribute says
# whether it delivers a Delivery itself. Set by the server for each request
# (an attribute set, not a call: it runs for every request).
SERVING = threading.local()


def set_server_defers(defers: bool) -> None:
    """Say whether the server running this thread's requests delivers late answers itself."""
    SERVING.defers = defers


def server_defers() -> bool:
    """Tell whether the server running this request delivers a Delivery itself."""
    return getattr(SERVING, "defers", False)


def mark_fault(environ: WSGIEnvironment, fault: Fault) -> None:
    """Record in `environ` that the answer to this request carries `fault`."""
    environ[FAULTS] = (*environ.get(FAULTS, ()), fault)


def faults_of(environ: WSGIEnvironment) -> tuple[Fault, ...]:
    """Return the faults the answer to this request carries, in the order they were marked."""
    faults: tuple[Fault, ...] = environ.get(FAULTS, ())
    return faults


def server_fault(environ: WSGIEnvironment) -> Fault | None:
    """Return the fault the server answers in place of the app's answer, or None."""
    for fault in faults_of(environ):
        if fault in SERVER_FAULTS:
            return fault
    return None


def mark_replayable(environ: WSGIEnvironment) -> None:
    """Tell StatusMemo that the answer to this request may be kept and replayed."""
    environ[STATUS_REPLAYABLE] = True


def expose(environ: WSGIEnvironment, names: tuple[str, ...]) -> None:
    """Let a page on an allowed origin read these headers of this request's answer too."""
    environ[EXPOSE_HEADERS] = names
