"""The interface through which the app asks the server for a fault, and the access log names it.

The app's side: the status view calls mark_fault(environ, fault) for each
fault its answer carries (a `simple_flask.core.status_faults.Fault`). The
environ then holds, under FAULTS, a tuple of Fault members in the order they
were marked; nothing else is ever stored there.

The server's side (`simple_flask.server.waitress_internals`): a request
marked with Fault.RESET or Fault.CLOSE gets no byte of the answer the app
gave; its connection is reset (RST) or closed (FIN) instead. The app still
answers, with a stand-in (501, problem+json) that a server which cannot drop
connections sends as it is. Fault.TRUNCATE marks a body cut short on
purpose, so the server does not warn about it; Fault.STALL needs nothing
from the server.

RequestLog reads faults_of(environ) for the "fault" field of the access log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.status_faults import Fault

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

FAULTS = "simple_flask.faults"
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
