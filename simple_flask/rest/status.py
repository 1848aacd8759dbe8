"""The status-code Blueprint factory: /<codes> answers with the code it is asked for.

The list and its options are read by core/entries.py, every entry checked
before any is served (rest/answers.py). Without ?sequence= one entry is
picked by weight; with it the list is served in order, the store handing out
attempt numbers (core/sequences.py); /sequences/ reports on sequences
(rest/sequences.py). The answer is built by rest/answers.py and leaves when
rest/delivery.py says.
"""

import json

from flask import Blueprint, Response, request

from simple_flask_blueprint.core.problems import Problem

from ..core.entries import (
    Entry,
    binding,
    choose,
    entry_at,
    parse_list,
    picked,
    source_of,
)
from ..core.errors import StoreUnavailable
from ..core.options import Limits, Options
from ..core.query import StatusQuery, parse_query
from ..core.sequences import ATTEMPT_HEADER, SequenceStore, parse_sequence_query
from ..core.sleep_slots import SleepSlots, Slot
from ..core.status_codes import CATALOGUE, describe
from ..core.status_faults import Fault
from ..core.status_headers import METHODS
from ..wsgi.environ import SEQUENCE_TAKEN, Delivery, mark_replayable
from .answers import body_length, checked_entries, code_answer, departure, dropped, shaped
from .cors import is_preflight
from .delivery import deliver, delivery_of, reserve
from .responses import empty, nosniff, prefers_json, problem_for
from .sequences import add_sequence_routes, refuse_other_methods

_NO_QUERY = StatusQuery()


def _no_store(response: Response) -> Response:
    """Keep caches from storing a status answer, and browsers from sniffing its type."""
    # No cache in between replays a 301 or a 404. nosniff is set here too, so
    # the Blueprint behaves the same in a host app without it. A Cache-Control
    # the request asked for (?header=) is kept.
    response.headers.setdefault("Cache-Control", "no-store")
    return nosniff(response)


def _replayable(query: StatusQuery) -> bool:
    """Tell whether a one-code answer to `query` is always the same: no query, or a fixed sleep."""
    if query is _NO_QUERY:
        return True
    sleep = query.options.sleep
    # Only a fixed sleep and nothing else: StatusMemo keys the answer by its query string.
    return (
        sleep is not None
        and sleep.low == sleep.high
        and query == StatusQuery(options=Options(sleep=sleep))
    )


def timing(entry: Entry) -> tuple[Delivery | None, int]:
    """Return when the answer to `entry` leaves (None: at once) and its body's length."""
    code = entry.outcome
    length = 0 if isinstance(code, Fault) else body_length(code, entry.options, prefers_json())
    return delivery_of(entry.options), length


def _length_of(timed: tuple[Delivery | None, int]) -> float:
    """How long a delivery holds its slot; -1 for none, below every delivery."""
    delivery, length = timed
    return -1.0 if delivery is None else delivery.seconds(length)


def next_in_sequence(
    store: SequenceStore, key: str, listed: tuple[Entry, ...], sent: tuple[Entry, ...]
) -> tuple[Entry, int]:
    """Take the next attempt of sequence `key`, bound to the `listed` entries.

    Returns the attempt's entry of `sent` (the listed ones with the query's
    options and their delays picked) and its number; the store records what
    was sent. The attempt is counted when the request arrives, before any delay.
    """
    # The status memo may have taken it already (see simple_flask.wsgi.status_memo).
    taken = request.environ.pop(SEQUENCE_TAKEN, None)
    try:
        if isinstance(taken, StoreUnavailable):
            raise taken
        if taken is None:
            taken = store.take(key, binding(listed), [str(e) for e in sent], request.method)
    except StoreUnavailable as error:
        # Never a guessed entry: a retry test must not pass on an answer out of order.
        raise StoreUnavailable(
            f"{error.detail}; no entry of the sequence was served", error.retry_after
        ) from None
    return entry_at(sent, taken.number), taken.number


def make_status_blueprint(
    name: str = "status",
    max_sleep_ms: int = 10_000,
    sleep_slots: int = 4,
    store: SequenceStore | None = None,
    max_size: int = 10 * 1024 * 1024,
) -> Blueprint:
    """Return a new status-code Blueprint named `name`; the host picks its url_prefix.

    `sleep` and `stall` accept up to `max_sleep_ms` milliseconds, and `size`
    up to `max_size` bytes. Under a server that cannot wait without a
    thread (rest/delivery.py), at most `sleep_slots` requests of this
    Blueprint wait at once; another one that asks to is answered 503 at
    once. `?sequence=` keeps its sequences in `store`, by default in this
    process's memory.
    """
    if max_sleep_ms < 0:
        raise ValueError(f"max_sleep_ms must be at least 0, got {max_sleep_ms}")
    if store is None:
        from ..state.memory import MemoryStore

        store = MemoryStore()
    blueprint = Blueprint(name, __name__)
    limits = Limits(max_sleep_ms=max_sleep_ms, max_size=max_size)
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
        refuse_other_methods(codes, rest, request.path.endswith("/"))
        args = request.args.to_dict(flat=False) if request.args else None
        key = parse_sequence_query(args) if args else None
        # A sequence is served in order: its entries take no weights.
        listed = parse_list(codes, in_order=key is not None, limits=limits)
        query = parse_query(args, limits) if args else _NO_QUERY
        source = source_of(query.seed)
        as_json = prefers_json()
        # Every entry is checked, with the query's options, before any is
        # served: a refused request uses no attempt.
        noun = "list" if key is None else "sequence"
        entries = checked_entries(listed, query.options, limits, as_json, noun)
        if key is None:
            entry = picked(choose(entries, source), source)
            return answer(entry, query, None, len(listed) == 1 and _replayable(query))
        # Each entry with its delays picked: the store records what is sent.
        picks = tuple(picked(entry, source) for entry in entries)
        # A refusal for want of a sleep slot must use no attempt: the longest
        # wait of any entry is reserved before the attempt is taken.
        slot = reserve(*max(map(timing, picks), key=_length_of), slots)
        try:
            entry, attempt = next_in_sequence(store, key, listed, picks)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        return answer(entry, query, attempt, False, slot)

    def answer(
        entry: Entry,
        query: StatusQuery,
        attempt: int | None,
        replayable: bool,
        slot: Slot | None = None,
    ) -> Response:
        """Answer `entry`, in `slot` if one was reserved for it, else in one taken now."""
        options = entry.options
        code = entry.outcome
        delivery, length = timing(entry)
        if slot is None:
            slot = reserve(delivery, length, slots)
        elif delivery is None:
            # Reserved for another entry of the sequence than the one served.
            slot.release()
            slot = None
        if isinstance(code, Fault):
            return deliver(dropped(code), delivery, slot)
        response = code_answer(code, options, query.location)
        if attempt is not None:
            response.headers[ATTEMPT_HEADER] = str(attempt)
        if replayable and slot is None:
            # The same request always gets this answer, and the server waits
            # out its delay: StatusMemo may replay both.
            mark_replayable(request.environ)
        response = shaped(response, options, query.headers, departure(options))
        return deliver(response, delivery, slot)

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
