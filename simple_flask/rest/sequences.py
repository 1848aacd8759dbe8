"""/status/sequences/: the sequences kept and what each served; forgetting one, or all.

The views only translate between HTTP and the store; the rules live in
core/sequences.py and the stores in simple_flask.state.
"""

import json

from flask import Blueprint, Response
from werkzeug.exceptions import MethodNotAllowed

from ..core.sequences import LISTED_KEYS, SequenceStore, parse_key, report
from .cors import is_preflight
from .responses import empty, problem

# The methods /sequences/ and /sequences/<key> answer (HEAD follows from GET).
SEQUENCE_METHODS = ("GET", "HEAD", "DELETE", "OPTIONS")


def _unknown(key: str) -> Response:
    return problem(404, f"no sequence has the key {key!r}: it was never used, expired or deleted")


def refuse_other_methods(codes: str, rest: str | None, slash: bool) -> None:
    """Answer 405 for /sequences/ or /sequences/<key> with a method they lack.

    Werkzeug routes PUT /status/sequences/k to /<codes>/<path:rest> (and
    PUT /status/sequences/ to /<codes>/), which take every method; the path
    still names the sequences. `slash`: the path ends with one.
    """
    if codes != "sequences":
        return
    names_sequences = slash if rest is None else "/" not in rest
    if names_sequences:
        raise MethodNotAllowed(valid_methods=SEQUENCE_METHODS)


def add_sequence_routes(blueprint: Blueprint, store: SequenceStore) -> None:
    """Add GET (and HEAD) and DELETE /sequences/ and /sequences/<key> over `store` to `blueprint`.

    Errors the store raises (StoreUnavailable) and bad keys (StatusError) are
    answered by the blueprint's error handlers.
    """

    def listing() -> Response:
        keys = store.keys(LISTED_KEYS)
        return Response(json.dumps({"keys": keys}), mimetype="application/json")

    def forget_all() -> Response:
        # 204 however many there were: a test suite's set-up may run it unconditionally.
        store.forget_all()
        return empty(204)

    def options_all() -> Response:
        return empty(204, [("Allow", ", ".join(SEQUENCE_METHODS))])

    def show(key: str) -> Response:
        key = parse_key(key)
        record = store.record(key)
        if record is None:
            return _unknown(key)
        return Response(json.dumps(report(key, record)), mimetype="application/json")

    def forget(key: str) -> Response:
        # 204 whether the key was known or not: DELETE is idempotent, so a
        # test's clean-up may run it unconditionally.
        store.forget(parse_key(key))
        return empty(204)

    def options(key: str) -> Response:
        # Answered here rather than by Flask, whose Allow would also list the
        # methods of /<codes>/<path:rest>, which matches this path too. A
        # CORS preflight gets an empty 204 whatever the key, as on the status
        # route, so that the page sees the real answer (a 400 for a bad key).
        if not is_preflight():
            parse_key(key)
        return empty(204, [("Allow", ", ".join(SEQUENCE_METHODS))])

    for rule, endpoint, view, method in (
        ("/sequences/", "sequences", listing, "GET"),
        ("/sequences/", "forget_sequences", forget_all, "DELETE"),
        ("/sequences/", "sequences_options", options_all, "OPTIONS"),
        ("/sequences/<key>", "sequence", show, "GET"),
        ("/sequences/<key>", "forget_sequence", forget, "DELETE"),
        ("/sequences/<key>", "sequence_options", options, "OPTIONS"),
    ):
        blueprint.add_url_rule(
            rule, endpoint, view, methods=[method], provide_automatic_options=False
        )
