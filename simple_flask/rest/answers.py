"""The answer to one entry of a status list, with its options: the body, its headers, its faults.

Each entry of a status request is checked before any is served
(checked_entries()), so that a refused request uses no attempt of its sequence
and a list never fails at random. The chosen one is then built:
a code's answer (code_answer()), sized, then cut short and given the
Retry-After and headers it asks for (shaped()); or, for a fault word, the
stand-in the server drops or replaces (dropped()). When it leaves is rest/delivery.py's.
"""

from __future__ import annotations

import functools
import json
import time

from flask import Response, request, url_for

from ..core.entries import Entry, with_defaults
from ..core.errors import StatusError, shown
from ..core.options import Limits, Options, check_answer, sized_body
from ..core.status_codes import NO_BODY_CODES, describe
from ..core.status_faults import Fault
from ..core.status_headers import needs_location, status_headers
from ..wsgi.environ import mark_fault
from .cors import expose_headers
from .responses import empty, negotiated, problem, status_line

RETRY_AFTER = "Retry-After"
SIZED_TYPE = "text/plain; charset=utf-8"
# What each fault the server answers in place of the app's answer sends.
FAULT_WORDS = {
    Fault.RESET: "reset the connection, with no answer",
    Fault.CLOSE: "closed the connection cleanly, with no answer",
    Fault.GARBAGE: "sent bytes that are no HTTP answer, then closed the connection",
    Fault.BAD_CHUNK: "sent a chunked 200 whose chunk no client can parse",
    Fault.CUT_HEAD: "sent the status line and part of the head, then closed the connection",
}


def body_length(code: int, options: Options, as_json: bool) -> int:
    """Return the length of the body an answer `code` with `options` carries."""
    if code in NO_BODY_CODES:
        return 0
    if options.size is not None:
        return options.size
    return _lengths(code)[as_json]


@functools.cache
def _lengths(code: int) -> tuple[int, int]:
    """The lengths of `code`'s text and JSON bodies, as negotiated() writes them."""
    return len(status_line(code).encode()), len(json.dumps(describe(code)).encode())


def checked_entries(
    listed: tuple[Entry, ...], defaults: Options, limits: Limits, as_json: bool, noun: str
) -> tuple[Entry, ...]:
    """Return the `listed` entries with the query's `defaults`, each checked against its answer.

    Raises StatusError naming the entry (of the `noun`, "list" or "sequence") and the rule.
    """
    entries = []
    for position, listed_entry in enumerate(listed, start=1):
        entry = with_defaults(listed_entry, defaults)
        code = entry.outcome
        try:
            if isinstance(code, int) and entry.options:
                check_answer(entry.options, code, body_length(code, entry.options, as_json), limits)
        except StatusError as error:
            if len(listed) == 1:
                raise
            named = shown(str(listed_entry))
            raise StatusError(f"entry {position} ({named}) of the {noun}: {error.detail}") from None
        entries.append(entry)
    return tuple(entries)


def dropped(fault: Fault) -> Response:
    """Ask the server to answer `fault` itself; return the stand-in for one that cannot."""
    mark_fault(request.environ, fault)
    return problem(
        501,
        f"the server was to answer {fault} (it would have {FAULT_WORDS[fault]}), "
        "which only `simple-flask serve` does; this server answered instead",
    )


def code_answer(code: int, options: Options, location: str | None) -> Response:
    """Build the answer of `code`: its phrase as text or JSON, or `size` bytes, and its headers.

    `location` is where a redirect points; by default this mount's /200.
    """
    if code in NO_BODY_CODES:
        response = empty(code)
    elif options.size is not None:
        response = Response(sized_body(options.size), status_line(code), content_type=SIZED_TYPE)
    else:
        # The full status line: an int would make Werkzeug write its own phrase.
        response = negotiated(status_line(code), describe(code), code)
    if location is None and needs_location(code):
        location = url_for(".respond", codes="200")
    for key, value in status_headers(
        code,
        location=location or "",
        method=request.method,
        content_length=response.content_length or 0,
    ):
        response.headers[key] = value
    return response


def shaped(
    response: Response, options: Options, headers: tuple[tuple[str, str], ...], departure: float
) -> Response:
    """Give `response` the Retry-After, custom headers and cut body its options ask for.

    `departure` is when its head leaves (a time.time() value), for a Retry-After date.
    """
    if options.retry_after is not None:
        value = options.retry_after.header(departure)
        if value is None:
            response.headers.pop(RETRY_AFTER, None)
        else:
            response.headers[RETRY_AFTER] = value
    if headers:
        _set_headers(response, headers)
    if options.truncate is not None:
        length = response.content_length or 0
        mark_fault(request.environ, Fault.TRUNCATE)
        response.set_data(response.get_data()[: options.truncate])
        # Set after the data, which would set it to the cut length: the
        # headers still announce the whole body.
        response.headers["Content-Length"] = str(length)
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


def departure(options: Options) -> float:
    """When the head of an answer with `options` leaves: now, or after its sleep."""
    now = time.time()
    return now if options.sleep is None else now + options.sleep.low / 1000
