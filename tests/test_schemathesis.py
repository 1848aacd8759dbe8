"""Property-based tests of the whole API against its own OpenAPI document, with schemathesis.

Every documented operation is called in process with generated valid and
invalid input (a bounded number of examples each); every answer must be
documented for its status code, carry a documented media type, match the
documented schema and headers, and never be a server error the request did
not ask for.
"""

from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    unsupported_method,
)

from simple_flask import create_app
from simple_flask.apidoc.openapi import REDIRECT_MARK, reserved_names, single_segment_routes
from simple_flask.core.settings import Settings
from simple_flask.core.status_codes import CATALOGUE

PROBLEM = "application/problem+json"
ACCEPT = ("text/plain", "application/json")
# Short delays and small bodies keep the run fast: the document's maximums follow
# the settings, so no valid request waits longer (sleep, stall and a paced body
# each within MAX_SLEEP_MS) or makes a larger body.
MAX_SLEEP_MS = 20
MAX_ANSWER_SIZE = 512
CONFIG = {
    "generation": {"max-examples": 25, "mode": "all"},
    # Each operation is independent: there is nothing to chain statefully.
    "phases": {"stateful": {"enabled": False}},
}


# Loaded at collection, as schemathesis parametrizes the test by operation.
APP = create_app(
    {
        "TESTING": True,
        "SETTINGS": Settings(max_sleep_ms=MAX_SLEEP_MS, max_answer_size=MAX_ANSWER_SIZE),
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", APP, config=schemathesis.Config.from_dict(CONFIG)
)
# Names that lead to other routes: "/status/" from /{name}/, "/healthz" from /{name}.
RESERVED = reserved_names(APP) + single_segment_routes(APP)


@schema.hook
def filter_case(context, case):
    """Leave out a name that is the first segment of another route, such as "status".

    The document's name schema excludes these names; /status/ is the catalogue,
    documented as an operation of its own, not a greeting refusing a name.
    """
    return (case.path_parameters or {}).get("name") not in RESERVED


@schemathesis.deserializer("text/plain", "text/html")
def _text(ctx, response):
    """Read text bodies as strings, so their documented schemas are checked too."""
    return response.text


# The faults a code list may name; in process nothing can drop a connection or
# send a malformed answer, so the app answers the documented stand-in, 501 problem+json.
FAULT_WORDS = {"reset", "close", "garbage", "bad_chunk", "cut_head"}
STAND_IN = 501


def _asked_codes(response) -> set[int | str] | None:
    """The codes (and fault words) a status request asked for, read from its path, or None."""
    segments = unquote(urlsplit(response.request.url).path).split("/", 3)
    if len(segments) < 3 or segments[1] != "status" or not segments[2]:
        return None
    codes = set()
    for entry in segments[2].split(","):
        # "<code>[:<weight>][;<option>...]"
        code = entry.partition(";")[0].partition(":")[0]
        if code in FAULT_WORDS:
            codes.add(code)
            continue
        if not (len(code) == 3 and code.isascii() and code.isdigit()):
            return None
        codes.add(int(code))
    return codes


def _is_problem(response) -> bool:
    return response.headers.get("content-type", [""])[0].startswith(PROBLEM)


@schemathesis.check
def answers_only_what_was_asked(ctx, response, case):
    """No server error unless asked for; the status route answers only a code it was asked for.

    The status route answers 4xx and 5xx on purpose: such an answer is right
    when its code is one the path asked for, and a fault entry is answered in
    process with its stand-in, 501 problem+json. Its own errors are
    problem+json: 400 for a request breaking a rule, 503 (with Retry-After)
    when every sleep slot is taken. Anything else 5xx is a server error.
    """
    status = response.status_code
    path = unquote(urlsplit(response.request.url).path)
    if status == 308 and "//" in path:
        # Werkzeug's redirect to the path with doubled slashes merged (documented).
        assert "location" in response.headers
        return None
    asked = _asked_codes(response) if case.operation.path.startswith("/status/{") else None
    if _is_problem(response):
        if status == STAND_IN and asked and FAULT_WORDS & asked:
            # The stand-in for a reset or close this server cannot enact.
            return None
        if status == 503:
            assert "retry-after" in response.headers, "a 503 problem must say when to retry"
            assert asked is not None, "only the status route may run out of sleep slots"
        else:
            assert status < 500, f"server error {status}: {response.text[:200]}"
        return None
    if asked is not None:
        # The empty 204 of a CORS preflight is the one answer not asked for; no
        # generated request is a preflight (they carry no Origin).
        assert status in asked, f"answered {status}, asked for {sorted(asked)}"
    else:
        assert status < 500, f"server error {status}: {response.text[:200]}"
    return None


# not_a_server_error is replaced by the check above, which lets through the 5xx
# a request asked for; positive_data_acceptance expects 2xx for valid input,
# and a valid request to /status/503 rightly gets 503.
REPLACED = [not_a_server_error, positive_data_acceptance]


def _cuts_the_body(case) -> bool:
    """Tell whether the case asks for a body cut short (truncate), so on purpose unreadable."""
    codes = str((case.path_parameters or {}).get("codes", ""))
    return "truncate" in (case.query or {}) or ";truncate=" in codes


# The trailing-slash redirects (/status -> /status/) answer only GET and HEAD;
# another method finds no route there and gets 404, not the 405 that
# unsupported_method expects of a documented path.
REDIRECTS = {
    path
    for path, item in APP.test_client().get("/openapi.json").get_json()["paths"].items()
    if item.get(REDIRECT_MARK)
}


@schema.parametrize()
def test_every_answer_matches_the_document(case):
    # A body cut short on purpose matches no schema: only its status is checked.
    excluded = [*REPLACED, response_schema_conformance] if _cuts_the_body(case) else REPLACED
    if case.operation.path in REDIRECTS:
        excluded = [*excluded, unsupported_method]
    # Each request twice: answered as plain text, then as JSON.
    for accept in ACCEPT:
        case.call_and_validate(headers={"Accept": accept}, excluded_checks=excluded)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
@pytest.mark.parametrize("accept", ACCEPT)
def test_every_catalogued_code_is_answered_as_documented(method, accept):
    """Each code of the catalogue, asked for directly, is answered as its documented response."""
    operation = schema["/status/{codes}"][method]
    for code, _ in CATALOGUE:
        case = operation.Case(path_parameters={"codes": str(code)})
        response = case.call_and_validate(headers={"Accept": accept}, excluded_checks=REPLACED)
        assert response.status_code == code
