"""The OpenAPI document: valid, served, and in step with the app's routes and rules."""

import json
import math
import re
from http import HTTPStatus
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from simple_flask import create_app
from simple_flask.apidoc.docs import resolve_ref
from simple_flask.apidoc.openapi import (
    HTTP_METHODS,
    REDIRECT_MARK,
    build_document,
    fill,
    reserved_names,
)
from simple_flask.core.entries import parse_list
from simple_flask.core.errors import StatusError
from simple_flask.core.options import Limits
from simple_flask.core.query import parse_location
from simple_flask.core.sequences import ATTEMPT_HEADER
from simple_flask.core.settings import Settings
from simple_flask.core.status_codes import CATALOGUE
from simple_flask.core.status_headers import status_headers

# The patterns the document states, checked below against the parsers and the routes.
SETTINGS = Settings()
LIMITS = Limits(max_sleep_ms=SETTINGS.max_sleep_ms, max_size=SETTINGS.max_answer_size)
_PARAMETERS = build_document(create_app({"SETTINGS": SETTINGS}))["components"]["parameters"]
CODES_PATTERN = _PARAMETERS["Codes"]["schema"]["pattern"]
LOCATION_PATTERN = _PARAMETERS["Location"]["schema"]["pattern"]
REST_PATTERN = _PARAMETERS["Rest"]["schema"]["pattern"]

# Werkzeug's placeholder, <converter(arguments):name> or <name>.
PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def routed_operations(app) -> set[tuple[str, str]]:
    """Every (OpenAPI path, method) the app routes, from its url_map alone."""
    operations = set()
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods)
        if rule.provide_automatic_options:
            # Flask's automatic OPTIONS gives every path the same answer (Allow,
            # and the CORS headers of a preflight): HTTP machinery, not an
            # operation of the API, so the document leaves it out. A route whose
            # view answers OPTIONS itself (the status route) is documented.
            methods.discard("OPTIONS")
        # HEAD stays: Werkzeug adds it to every GET rule, and the document
        # lists it beside every GET.
        path = PLACEHOLDER.sub(r"{\1}", rule.rule)
        operations |= {(path, method.lower()) for method in methods}
    return operations | redirected_operations(app)


def redirected_operations(app) -> set[tuple[str, str]]:
    """Every (path, method) Werkzeug redirects to the same path with a trailing slash.

    A rule ending in a slash (strict_slashes, the default) answers its path
    without the slash with a 308, unless another rule routes that path.
    """
    rules = list(app.url_map.iter_rules())
    routed = {PLACEHOLDER.sub(r"{\1}", rule.rule) for rule in rules}
    operations = set()
    for rule in rules:
        path = PLACEHOLDER.sub(r"{\1}", rule.rule)
        bare = path.rstrip("/")
        if path.endswith("/") and bare and bare not in routed and rule.strict_slashes is not False:
            methods = set(rule.methods) - {"OPTIONS"}
            operations |= {(bare, method.lower()) for method in methods}
    return operations


def documented_operations(spec) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1.")


def test_every_route_is_documented(app, spec):
    undocumented = routed_operations(app) - documented_operations(spec)
    assert not undocumented, f"routes missing from the OpenAPI document: {sorted(undocumented)}"


def test_nothing_documented_is_missing_from_the_routes(app, spec):
    phantom = documented_operations(spec) - routed_operations(app)
    assert not phantom, f"documented but not routed: {sorted(phantom)}"


def test_the_trailing_slash_redirects_are_documented(app, spec):
    redirects = {path for path, _ in redirected_operations(app)}
    assert redirects == {
        "/{name}",
        "/blueprint",
        "/blueprint/{name}",
        "/status",
        "/status/sequences",
    }
    assert redirects == {path for path, item in spec["paths"].items() if item.get(REDIRECT_MARK)}
    for path in redirects:
        assert set(spec["paths"][path]["get"]["responses"]) == {"308", "413"}


def test_every_operation_documents_the_413_of_a_body_over_the_limit(spec):
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS.intersection(item):
            assert "413" in item[method]["responses"], (path, method)


def test_the_comparison_sees_a_new_route(app):
    """A route added without a description shows up as undocumented."""
    app.add_url_rule("/extra/<int:number>", "extra", lambda number: "", methods=["PUT"])
    spec = build_document(app)
    assert routed_operations(app) - documented_operations(spec) == {("/extra/{number}", "put")}


def test_the_documented_routes_cover_every_kind(spec):
    paths = set(spec["paths"])
    for path in ["/", "/{name}/", "/blueprint/", "/blueprint/{name}/", "/status/"]:
        assert path in paths
    for path in ["/status/{codes}", "/status/{codes}/{rest}", "/healthz", "/openapi.json"]:
        assert path in paths
    for path in ["/status/sequences/", "/status/sequences/{key}"]:
        assert set(spec["paths"][path]) >= {"get", "head", "delete", "options"}
    assert "/docs" in paths
    assert set(spec["paths"]["/status/{codes}"]) >= {"get", "put", "delete", "options"}


def test_the_root_app_has_no_static_route(app):
    assert "static" not in {rule.endpoint for rule in app.url_map.iter_rules()}


def test_path_parameters_match_the_path_templates(spec):
    for path, item in spec["paths"].items():
        in_template = set(re.findall(r"{([^}]+)}", path))
        for method in HTTP_METHODS.intersection(item):
            parameters = [
                resolve_ref(spec, p)
                for p in item.get("parameters", []) + item[method].get("parameters", [])
            ]
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == in_template, (path, method)
            assert all(p["required"] for p in parameters if p["in"] == "path")


def test_operation_ids_are_unique_and_tags_listed(spec):
    operations = [
        item[method]
        for item in spec["paths"].values()
        for method in HTTP_METHODS.intersection(item)
    ]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    tags = {tag["name"] for tag in spec["tags"]}
    assert all(set(operation["tags"]) <= tags for operation in operations)


def test_served_as_json_with_an_etag(client, app):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == build_document(app)
    assert response.headers["Cache-Control"] == "no-cache"
    etag = response.headers["ETag"]
    again = client.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert client.head("/openapi.json").headers["ETag"] == etag


def test_the_etag_changes_with_the_document():
    one = create_app({"SETTINGS": Settings(max_sleep_ms=100)}).test_client()
    two = create_app({"SETTINGS": Settings(max_sleep_ms=200)}).test_client()
    first, second = one.get("/openapi.json"), two.get("/openapi.json")
    assert first.data != second.data
    assert first.headers["ETag"] != second.headers["ETag"]


def test_the_sleep_and_size_limits_come_from_the_settings():
    settings = Settings(max_sleep_ms=1234, max_answer_size=4321)
    spec = create_app({"SETTINGS": settings}).test_client().get("/openapi.json").get_json()
    parameters = spec["components"]["parameters"]
    for name, largest in [("Sleep", 1234), ("Stall", 1234), ("Size", 4321)]:
        pattern = parameters[name]["schema"]["pattern"]
        assert re.fullmatch(pattern, str(largest)), name
        assert not re.fullmatch(pattern, str(largest + 1)), name
        assert str(largest) in parameters[name]["description"], name
    assert re.fullmatch(parameters["Sleep"]["schema"]["pattern"], "0..1234")
    assert not re.fullmatch(parameters["Sleep"]["schema"]["pattern"], "0..1235")
    assert spec["components"]["schemas"]["SizedBody"]["maxLength"] == 4321


def test_the_version_is_the_package_version(spec):
    from simple_flask import __version__

    assert spec["info"]["version"] == __version__


def test_reserved_names_are_the_first_segments_of_other_routes(app, spec):
    assert reserved_names(app) == ("blueprint", "status")
    name = spec["components"]["parameters"]["Name"]["schema"]
    assert name["not"] == {"enum": ["blueprint", "status"]}
    assert "not" not in spec["components"]["parameters"]["BlueprintName"]["schema"]


@pytest.mark.parametrize("name", ["blueprint", "status"])
def test_a_reserved_name_really_reaches_another_route(client, name):
    response = client.get(f"/{name}/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) != f"Hallo {name} from CORE!"


def test_problems_have_the_documented_shape(client, spec):
    problem = spec["components"]["schemas"]["Problem"]
    for path in ["/nope/x", f"/{'x' * 101}/", "/status/abc"]:
        response = client.get(path)
        assert response.mimetype == "application/problem+json"
        body = response.get_json(force=True)
        assert set(problem["required"]) <= set(body)
        assert body["type"] == problem["properties"]["type"]["const"]
        assert body["status"] == response.status_code


def documented_answer(spec, code: int) -> dict:
    """The response the status route documents for `code`: its own entry, else its range."""
    responses = spec["paths"]["/status/{codes}"]["get"]["responses"]
    entry = responses.get(str(code)) or responses[f"{str(code)[0]}XX"]
    return resolve_ref(spec, entry)


@pytest.mark.parametrize(("code", "phrase"), CATALOGUE)
def test_the_headers_documented_for_each_code_are_the_ones_it_carries(spec, code, phrase):
    expected = {
        name for name, _ in status_headers(code, location="/", method="GET", content_length=10)
    }
    answer = documented_answer(spec, code)
    # Retry-After is documented but not required: ?retry_after=none leaves it out.
    # X-Sequence-Attempt is on every answer of a sequence, whatever its code.
    documented = set(answer.get("headers", {})) - {ATTEMPT_HEADER}
    assert resolve_ref(spec, answer["headers"][ATTEMPT_HEADER])["required"] is False
    assert documented == expected
    no_body = code in (204, 205, 304)
    assert ("content" not in answer) == no_body


def unsayable(text: str) -> bool:
    """Whether the list `text` breaks a rule no pattern can say, read without the parser.

    The weights adding up to 0 or past any float, a range <min>..<max> whose
    min is the larger, an option given twice in one entry.
    """
    total = 0.0
    for entry in text.split(","):
        head, *options = entry.split(";")
        _, colon, weight = head.partition(":")
        total += float(weight) if colon else 1.0
        names = [option.partition("=")[0] for option in options]
        if len(names) != len(set(names)):
            return True
        for option in options:
            low, dots, high = option.partition("=")[2].partition("..")
            if dots and int(low) > int(high):
                return True
    # A weight of hundreds of digits is too large for a float: the sum is not finite.
    return total == 0 or not math.isfinite(total)


# Long lists are slow to draw from this pattern; test_openapi_options.py checks
# the entries piece by piece.
@given(st.from_regex(CODES_PATTERN, fullmatch=True))
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_every_list_the_codes_pattern_allows_is_read(text):
    try:
        entries = parse_list(text, limits=LIMITS)
    except StatusError:
        assert unsayable(text), text
    else:
        assert not unsayable(text), text
        assert all(isinstance(e.outcome, str) or 200 <= e.outcome <= 599 for e in entries)


@given(st.text(alphabet="0123456789:,.-+e x", max_size=30))
@settings(max_examples=500)
def test_every_list_the_route_reads_fits_the_codes_pattern(text):
    try:
        parse_list(text, limits=LIMITS)
    except StatusError:
        return
    assert re.fullmatch(CODES_PATTERN, text)


@given(st.from_regex(LOCATION_PATTERN, fullmatch=True).filter(lambda text: len(text) <= 2000))
@settings(max_examples=200)
def test_every_location_the_pattern_allows_is_read(text):
    parse_location(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20).map(lambda text: "/" + text))
@settings(max_examples=300)
def test_every_location_the_route_reads_fits_the_pattern(text):
    try:
        parse_location(text)
    except StatusError:
        return
    assert re.fullmatch(LOCATION_PATTERN, text)


@given(st.from_regex(REST_PATTERN, fullmatch=True).filter(lambda text: len(text) < 200))
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_rest_the_pattern_allows_reaches_the_status_route(client, text):
    response = client.get("/status/418/" + quote(text, safe=""))
    assert response.status_code == 418


@pytest.mark.parametrize("rest", ["/x", "a\nb", "ab\n\n"])
def test_a_rest_outside_the_pattern_does_not(client, rest):
    assert not re.fullmatch(REST_PATTERN, rest)
    assert client.get("/status/418/" + quote(rest, safe="")).status_code in (308, 404)


@pytest.mark.parametrize("rest", ["api/v1/orders", "orders/42/"])
def test_deeper_paths_than_the_documented_segment_answer_alike(client, rest):
    """The description's promise: `rest` is documented as one segment, deeper paths work too."""
    assert not re.fullmatch(REST_PATTERN, rest)
    assert client.get("/status/418/" + rest).status_code == 418


def test_status_phrases_in_the_document_are_registered(spec):
    """The examples of the document quote real reason phrases."""
    line = spec["components"]["schemas"]["StatusLine"]["description"]
    assert HTTPStatus(418).phrase in line


def test_every_placeholder_of_the_source_is_filled(spec):
    """No `${NAME}` of openapi.yaml reaches the served document."""
    assert "${" not in json.dumps(spec)


def test_a_placeholder_the_code_does_not_fill_is_an_error():
    with pytest.raises(KeyError):
        fill({"maximum": "${NO_SUCH_LIMIT}"}, {})
    assert fill({"maxLength": "${N}", "description": "up to ${N}"}, {"N": 7}) == {
        "maxLength": 7,
        "description": "up to 7",
    }
