"""The status service's faults on demand, applied to an answer the status view has built.

A dropped connection (`reset`, `close`) is the server's to enact: the view
marks the request (simple_flask.wsgi.environ) and answers a stand-in that
only a server unable to drop connections sends. Body faults, Retry-After
and custom headers change the answer itself, so any WSGI server sends them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, cast

from flask import Response, current_app, request

from ..core.sleep_slots import SleepSlots, Slot
from ..core.status_codes import StatusQuery
from ..core.status_faults import Fault, check_body_fault
from ..wsgi.environ import mark_fault
from .cors import expose_headers
from .responses import problem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

RETRY_AFTER = "Retry-After"


def dropped(fault: Fault) -> Response:
    """Ask the server to drop the connection; return the stand-in answer for one that cannot."""
    mark_fault(request.environ, fault)
    return problem(
        501,
        f"the connection was to be dropped ({fault}: "
        f"{'reset' if fault is Fault.RESET else 'closed cleanly'}, with no answer), "
        "which only `simple-flask serve` does; this server answered instead",
    )


def with_faults(response: Response, code: int, query: StatusQuery, slots: SleepSlots) -> Response:
    """Apply the Retry-After, custom headers and body faults `query` asks for to `response`."""
    if query.retry_after is not None:
        value = query.retry_after.header(time.time())
        if value is None:
            response.headers.pop(RETRY_AFTER, None)
        else:
            response.headers[RETRY_AFTER] = value
    if query.headers:
        _set_headers(response, query.headers)
    if query.truncate is None and not query.stall_ms:
        return response
    length = response.content_length or 0
    check_body_fault(
        "truncate" if query.truncate is not None else "stall", code, length, query.truncate
    )
    if query.truncate is not None:
        mark_fault(request.environ, Fault.TRUNCATE)
        response.set_data(response.get_data()[: query.truncate])
        # Set after the data, which would set it to the cut length: the
        # headers still announce the whole body.
        response.headers["Content-Length"] = str(length)
    if query.stall_ms:
        # Taken last, so that no refusal above leaves a slot held.
        slot = slots.take(query.stall_ms / 1000)
        mark_fault(request.environ, Fault.STALL)
        response = StalledResponse.from_response(response, slot)
    return response


def _set_headers(response: Response, headers: tuple[tuple[str, str], ...]) -> None:
    """Set the custom `headers`, each name replacing a default header of the same name."""
    names = list(dict.fromkeys(name for name, _ in headers))
    for name in names:
        del response.headers[name]
    for name, value in headers:
        response.headers.add(name, value)
    # A page on another origin may read them: each is exposed to CORS.
    expose_headers(names)


class StalledResponse(Response):
    """An answer whose status line and headers go out at once, and whose body after a sleep."""

    slot: Slot

    @classmethod
    def from_response(cls, response: Response, slot: Slot) -> StalledResponse:
        """Return `response` as a StalledResponse sleeping in `slot` before its body."""
        # The app's response class stays a base: it finishes the headers
        # (CORS, nosniff) in get_wsgi_response(), and Flask keeps an answer
        # of its response class as it is.
        response.__class__ = _stalled(current_app.response_class)
        stalled = cast("StalledResponse", response)
        stalled.slot = slot
        return stalled

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app_iter, status, headers = self.get_wsgi_response(environ)
        try:
            write = start_response(status, headers)
            # PEP 3333's write(): waitress sends the status line and headers on
            # the first write, even of no bytes, and only then is the body late.
            write(b"")
        except BaseException:
            self.slot.release()
            raise
        return _StalledBody(app_iter, self.slot)


# One StalledResponse class per response class it sends (an app's one or two).
_STALLED: dict[type[Response], type[StalledResponse]] = {}


def _stalled(base: type[Response]) -> type[StalledResponse]:
    """Return the StalledResponse class sending a `base` response (one class per base)."""
    if issubclass(base, StalledResponse):
        return base
    stalled = _STALLED.get(base)
    if stalled is None:
        made = type(StalledResponse.__name__, (StalledResponse, base), {})
        stalled = _STALLED.setdefault(base, cast("type[StalledResponse]", made))
    return stalled


class _StalledBody:
    """A body that sleeps in its slot before its first chunk; closing frees the slot."""

    def __init__(self, body: Iterable[bytes], slot: Slot):
        self._body = body
        self._slot = slot

    def __iter__(self) -> Iterator[bytes]:
        self._slot.sleep()
        yield from self._body

    def close(self) -> None:
        self._slot.release()
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
