"""The status-code Blueprint factory: /<codes> answers with the code it is asked for.

The list is read by core/entries.py. With ?sequence=<key> it is served in
order (core/sequences.py holds the rules, the store hands out attempt
numbers); /sequences/<key> reports on a sequence (rest/sequences.py).
"""

import json

from flask import Blueprint, Response, request, url_for

from simple_flask_blueprint.core.problems import Problem

from ..core.entries import Entry, binding, choose, entry_at, parse_list
from ..core.errors import StoreUnavailable
from ..core.sequences import ATTEMPT_HEADER, SequenceStore, parse_sequence_query
from ..core.sleep_slots import SleepSlots
from ..core.status_codes import CATALOGUE, NO_BODY_CODES, StatusQuery, describe, parse_query
from ..core.status_faults import Fault
from ..core.status_headers import METHODS, needs_location, status_headers
from ..wsgi.environ import mark_replayable
from .cors import is_preflight
from .faults import dropped, with_faults
from .responses import empty, negotiated, nosniff, problem_for, status_line
from .sequences import add_sequence_routes, refuse_other_methods

_NO_QUERY = StatusQuery()


def _no_store(response: Response) -> Response:
    """Keep caches from storing a status answer, and browsers from sniffing its type."""
    # No cache in between replays a 301 or a 404. nosniff is set here too, so
    # the Blueprint behaves the same in a host app without it. A Cache-Control
    # the request asked for (?header=) is kept.
    response.headers.setdefault("Cache-Control", "no-store")
    return nosniff(response)


def status_response(code: int, location: str | None = None) -> Response:
    """Build the answer for `code`: its phrase as text or JSON, and the headers it needs.

    `location` is where a redirect points; by default this mount's /200.
    """
    # The full status string: an int would make Werkzeug write its own phrase
    # (upper case, or UNKNOWN) instead of the registered one.
    if code in NO_BODY_CODES:
        response = empty(code)
    else:
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


def next_in_sequence(
    store: SequenceStore, key: str, entries: tuple[Entry, ...]
) -> tuple[Entry, int]:
    """Take the next attempt of sequence `key` over `entries`; return (its entry, its number).

    The attempt is counted when the request arrives, before any ?sleep=.
    """
    try:
        taken = store.take(key, binding(entries))
    except StoreUnavailable as error:
        # Never a guessed entry: a retry test must not pass on an answer out of order.
        raise StoreUnavailable(f"{error.detail}; no entry of the sequence was served") from None
    return entry_at(entries, taken.number), taken.number


def make_status_blueprint(
    name: str = "status",
    max_sleep_ms: int = 10_000,
    sleep_slots: int = 4,
    store: SequenceStore | None = None,
) -> Blueprint:
    """Return a new status-code Blueprint named `name`; the host picks its url_prefix.

    `?sleep=` accepts up to `max_sleep_ms` milliseconds, and at most
    `sleep_slots` requests of this Blueprint sleep at once; another one that
    asks to sleep is answered 503 at once. `?sequence=` keeps its sequences in
    `store`, by default in this process's memory.
    """
    if max_sleep_ms < 0:
        raise ValueError(f"max_sleep_ms must be at least 0, got {max_sleep_ms}")
    if store is None:
        from ..state.memory import MemoryStore

        store = MemoryStore()
    blueprint = Blueprint(name, __name__)
    # Each Blueprint has slots of its own: mounting it twice gives two limits.
    slots = SleepSlots(sleep_slots)
    catalogue_body = json.dumps([describe(code) for code, _ in CATALOGUE])

    def catalogue() -> Response:
        return Response(catalogue_body, mimetype="application/json")

    def respond(codes: str, rest: str | None = None) -> Response:
        # A browser sends a preflight before a cross-origin request it may not
        # send directly; a non-2xx answer would hide the real response from the
        # page, so every preflight gets an empty 204 for the CORS layer to fill.
        if is_preflight():
            return empty(204)
        refuse_other_methods(codes, rest)
        args = request.args.to_dict(flat=False) if request.args else None
        key = parse_sequence_query(args) if args else None
        # A sequence is served in order: its entries take no weights.
        entries = parse_list(codes, in_order=key is not None)
        query = parse_query(args, max_sleep_ms) if args else _NO_QUERY
        if key is None:
            entry, attempt = choose(entries, query.seed), None
        else:
            entry, attempt = next_in_sequence(store, key, entries)
        code = entry.outcome
        if query.sleep_ms:
            slots.sleep(query.sleep_ms / 1000)
        if isinstance(code, Fault):
            return dropped(code)
        response = status_response(code, query.location)
        if attempt is not None:
            response.headers[ATTEMPT_HEADER] = str(attempt)
        if query is not _NO_QUERY:
            return with_faults(response, code, query, slots)
        if len(entries) == 1:
            # The same request always gets this answer: StatusMemo may replay it.
            mark_replayable(request.environ)
        return response

    blueprint.add_url_rule("/", "catalogue", catalogue, methods=["GET", "HEAD"])
    # A static first segment: Werkzeug tries /sequences/<key> before /<codes>/<path:rest>.
    add_sequence_routes(blueprint, store)
    blueprint.add_url_rule("/<codes>", "respond", respond, methods=METHODS)
    # A base URL ending in a slash ("/status/503/") answers as well.
    blueprint.add_url_rule("/<codes>/", "respond", respond, methods=METHODS)
    blueprint.add_url_rule("/<codes>/<path:rest>", "respond", respond, methods=METHODS)
    # Every refusal is a Problem: one handler, also in a host app with none of its own.
    blueprint.register_error_handler(Problem, problem_for)
    blueprint.after_request(_no_store)
    return blueprint
