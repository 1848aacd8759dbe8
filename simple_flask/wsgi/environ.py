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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.status_faults import Fault

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

REQUEST_ID = "simple_flask.request_id"
FAULTS = "simple_flask.faults"
STATUS_REPLAYABLE = "simple_flask.status_replayable"
EXPOSE_HEADERS = "simple_flask.expose_headers"
# The faults that drop the connection instead of answering.
CONNECTION_FAULTS = frozenset({Fault.RESET, Fault.CLOSE})


def mark_fault(environ: WSGIEnvironment, fault: Fault) -> None:
    """Record in `environ` that the answer to this request carries `fault`."""
    environ[FAULTS] = (*environ.get(FAULTS, ()), fault)


def faults_of(environ: WSGIEnvironment) -> tuple[Fault, ...]:
    """Return the faults the answer to this request carries, in the order they were marked."""
    faults: tuple[Fault, ...] = environ.get(FAULTS, ())
    return faults


def connection_fault(environ: WSGIEnvironment) -> Fault | None:
    """Return the connection fault (RESET or CLOSE) this request asked for, or None."""
    for fault in faults_of(environ):
        if fault in CONNECTION_FAULTS:
            return fault
    return None


def mark_replayable(environ: WSGIEnvironment) -> None:
    """Tell StatusMemo that the answer to this request may be kept and replayed."""
    environ[STATUS_REPLAYABLE] = True


def expose(environ: WSGIEnvironment, names: tuple[str, ...]) -> None:
    """Let a page on an allowed origin read these headers of this request's answer too."""
    environ[EXPOSE_HEADERS] = names
