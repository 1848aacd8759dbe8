"""GET and DELETE /status/sequences/<key>: what a failure sequence served, and forgetting it.

The views only translate between HTTP and the store; the rules live in
core/sequences.py and the stores in simple_flask.state.
"""

import json

from flask import Blueprint, Response
from werkzeug.exceptions import MethodNotAllowed

from ..core.sequences import SequenceStore, parse_key, report
from .cors import is_preflight
from .responses import empty, problem

# The methods /sequences/<key> answers (HEAD follows from GET; OPTIONS is Flask's).
SEQUENCE_METHODS = ("GET", "HEAD", "DELETE", "OPTIONS")


def _unknown(key: str) -> Response:
    return problem(404, f"no sequence has the key {key!r}: it was never used, expired or deleted")


def refuse_other_methods(codes: str, rest: str | None) -> None:
    """Answer 405 for /sequences/<key> with a method it lacks, which reached the status route.

    Werkzeug routes PUT /status/sequences/k to /<codes>/<path:rest>, which
    takes every method; the path still names a sequence report.
    """
    if codes == "sequences" and rest is not None and "/" not in rest:
        raise MethodNotAllowed(valid_methods=SEQUENCE_METHODS)


def add_sequence_routes(blueprint: Blueprint, store: SequenceStore) -> None:
    """Add GET (and HEAD) and DELETE /sequences/<key> over `store` to `blueprint`.

    Errors the store raises (StoreUnavailable) and bad keys (StatusError) are
    answered by the blueprint's error handlers.
    """

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

    for endpoint, view, method in (
        ("sequence", show, "GET"),
        ("forget_sequence", forget, "DELETE"),
        ("sequence_options", options, "OPTIONS"),
    ):
        blueprint.add_url_rule(
            "/sequences/<key>", endpoint, view, methods=[method], provide_automatic_options=False
        )
