"""When a status answer leaves: after its sleep, its body after its stall and at its rate.

Under the service's own server (`simple-flask serve`, start.py), which says
so (simple_flask.wsgi.environ.server_defers()), the app marks the answer with a Delivery
and returns at once: the server waits it out in its event loop, and no
worker thread is held. Under a server that cannot (Flask's test client,
`flask run`, a host app's own server) the worker thread waits itself, in a
sleep slot: at most `sleep_slots` requests of a Blueprint wait at once, and
one more is refused with 503 (SlotsFull) before anything else is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, cast

from flask import Response, current_app, request

from ..core.options import Options
from ..core.sleep_slots import SleepSlots, Slot
from ..core.status_faults import Fault
from ..wsgi.environ import DELIVERY, Delivery, mark_fault, server_defers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def delivery_of(options: Options) -> Delivery | None:
    """Return when an answer with `options` (delays picked) leaves; None for at once."""
    wait = 0.0 if options.sleep is None else options.sleep.low / 1000
    stall = 0.0 if options.stall is None else options.stall.low / 1000
    if not (wait or stall or options.rate):
        # sleep=0 and stall=0 delay nothing, and take no slot.
        return None
    return Delivery(wait=wait, stall=stall, rate=options.rate)


def reserve(delivery: Delivery | None, body_length: int, slots: SleepSlots) -> Slot | None:
    """Take the sleep slot this request waits in; None where it waits in none.

    Called before anything else of the request is done, so that a refusal
    (SlotsFull, 503) uses no attempt of a sequence.
    """
    if delivery is None or server_defers():
        return None
    return slots.take(delivery.seconds(body_length))


def deliver(response: Response, delivery: Delivery | None, slot: Slot | None) -> Response:
    """Return `response` to leave as `delivery` says: marked for the server, or waited for here."""
    if delivery is None:
        return response
    environ = request.environ
    if delivery.stall or delivery.rate:
        mark_fault(environ, Fault.STALL)
    if slot is None:
        environ[DELIVERY] = delivery
        return response
    try:
        if delivery.wait:
            slot.wait(delivery.wait)
    except BaseException:
        slot.release()
        raise
    if not (delivery.stall or delivery.rate):
        slot.release()
        return response
    return PacedResponse.from_response(response, delivery, slot)


class PacedResponse(Response):
    """An answer whose status line and headers go out at once, its body late or paced."""

    delivery: Delivery
    slot: Slot

    @classmethod
    def from_response(cls, response: Response, delivery: Delivery, slot: Slot) -> PacedResponse:
        """Return `response` as a PacedResponse waiting in `slot`."""
        # The app's response class stays a base: it finishes the headers
        # (CORS, nosniff) in get_wsgi_response(), and Flask keeps an answer
        # of its response class as it is.
        response.__class__ = _paced(current_app.response_class)
        paced = cast("PacedResponse", response)
        paced.delivery = delivery
        paced.slot = slot
        return paced

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
        return _PacedBody(app_iter, self.delivery, self.slot)


# One PacedResponse class per response class it sends (an app's one or two).
_PACED: dict[type[Response], type[PacedResponse]] = {}


def _paced(base: type[Response]) -> type[PacedResponse]:
    """Return the PacedResponse class sending a `base` response (one class per base)."""
    if issubclass(base, PacedResponse):
        return base
    paced = _PACED.get(base)
    if paced is None:
        made = type(PacedResponse.__name__, (PacedResponse, base), {})
        paced = _PACED.setdefault(base, cast("type[PacedResponse]", made))
    return paced


class _PacedBody:
    """A body that waits in its slot before its first byte, and paces them; closing frees it."""

    def __init__(self, body: Iterable[bytes], delivery: Delivery, slot: Slot):
        self._body = body
        self._delivery = delivery
        self._slot = slot

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._delivery.stall:
                self._slot.wait(self._delivery.stall)
            if self._delivery.rate is None:
                yield from self._body
                return
            sent = 0.0
            for due, piece in self._delivery.paced(b"".join(self._body)):
                self._slot.wait(due - sent)
                sent = due
                yield piece
        finally:
            # Free the slot once the last byte is out: a server may close
            # the body later (Flask's test client only when told to).
            self._slot.release()

    def close(self) -> None:
        self._slot.release()
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
