"""Live answers validated against the OpenAPI document with openapi-core.

Every documented operation is called (with its parameters' examples, as
plain text and as JSON), and so are the errors each route can give: a bad
name or code (400), the trailing-slash redirects (308), methods a path does
not answer (405, with Allow), a body over the limit (413, through the real
server, which refuses it before Flask sees it). openapi-core checks the
request and the answer: status, media type, body and headers. An answer
whose status or media type is not documented fails.
"""

import json
import re

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS31Validator

from simple_flask import create_app
from simple_flask.apidoc.docs import resolve_ref
from simple_flask.apidoc.openapi import HTTP_METHODS, REDIRECT_MARK, build_document
from simple_flask.core.settings import Settings
from simple_flask.core.status_codes import CATALOGUE
from simple_flask.server.serving import waitress_options
from tests.support import LOOPBACK, request, serving_in_thread

# A small body limit, so that the 413 test sends little; short delays and small sizes.
MAX_BODY = 64
MAX_SIZE = 4096
SETTINGS = Settings(max_sleep_ms=20, max_request_body=MAX_BODY, max_answer_size=MAX_SIZE)
APP = create_app({"TESTING": True, "SETTINGS": SETTINGS})
SPEC = build_document(APP)
# openapi-core reads JSON bodies only under application/json unless told.
OPENAPI = OpenAPI.from_dict(
    SPEC, config=Config(extra_media_type_deserializers={"application/problem+json": json.loads})
)
ACCEPT = ("text/plain", "application/json")
# The line a sized body repeats, as the service's documentation shows it.
LINE = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\n"
OPERATIONS = sorted(
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in HTTP_METHODS.intersection(item)
)


def validate_schema(value: object, schema: dict) -> None:
    OAS31Validator(schema).validate(value)


def example_url(path: str) -> str:
    """`path` with each path parameter replaced by its documented example."""
    item = SPEC["paths"][path]
    examples = {
        # A sequence key has no example: a new service knows none, and the
        # key used here is answered 404, as documented.
        parameter["name"]: str(parameter.get("example", "unused-key"))
        for parameter in (resolve_ref(SPEC, p) for p in item.get("parameters", []))
        if parameter["in"] == "path"
    }
    return re.sub(r"\{([^}]+)\}", lambda match: examples[match.group(1)], path)


def validated(client, method: str, url: str, valid_request: bool = True, **kwargs):
    """Send a request with the test client; validate it and its answer; return the answer.

    With valid_request=False the request must break the document (a bad
    parameter), and only the answer is validated.
    """
    response = client.open(url, method=method.upper(), **kwargs)
    openapi_request = WerkzeugOpenAPIRequest(response.request)
    if valid_request:
        OPENAPI.validate_request(openapi_request)
    else:
        with pytest.raises(OpenAPIError):
            OPENAPI.validate_request(openapi_request)
    OPENAPI.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))
    return response


@pytest.fixture(scope="module")
def client():
    return APP.test_client()


def test_every_operation_is_exercised():
    assert len(OPERATIONS) > 40
    assert ("/{name}", "get") in OPERATIONS
    assert ("/status/{codes}/{rest}", "delete") in OPERATIONS


@pytest.mark.parametrize("accept", ACCEPT)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_documented_operation_answers_as_documented(client, path, method, accept):
    response = validated(client, method, example_url(path), headers={"Accept": accept})
    operation = SPEC["paths"][path][method]
    assert str(response.status_code) in operation["responses"] or any(
        code.endswith("XX") and code[0] == str(response.status_code)[0]
        for code in operation["responses"]
    )


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/blueprint/%E2%80%8B/", 400),
        ("GET", "/Kalimaha", 308),
        ("HEAD", "/Kalimaha", 308),
        ("GET", "/blueprint", 308),
        ("GET", "/blueprint/Ann", 308),
        ("GET", "/status", 308),
        ("GET", "/status/sequences", 308),
        ("DELETE", "/status/sequences", 308),
        ("POST", "/status/301?location=/Kalimaha/", 301),
        ("PUT", "/status/418/orders", 418),
    ],
)
@pytest.mark.parametrize("accept", ACCEPT)
def test_errors_and_redirects_are_answered_as_documented(client, method, url, status, accept):
    response = validated(client, method, url, headers={"Accept": accept})
    assert response.status_code == status
    if status == 308:
        assert response.headers["Location"].endswith(url.split("?")[0] + "/")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/" + "x" * 101 + "/"),
        ("GET", "/status/abc"),
        ("DELETE", "/status/200?sleep=-1"),
        ("GET", "/status/200?location=//elsewhere"),
        ("GET", "/status/200;sleep=21"),
        ("GET", "/status/200?stall=0..21"),
        ("GET", "/status/200;foo=1"),
        ("GET", "/status/reset;size=1"),
        ("GET", f"/status/200?size={MAX_SIZE + 1}"),
        ("POST", "/status/200?rate=0"),
        ("GET", "/status/200;truncate=0000000001"),
        ("PUT", "/status/sequences"),
    ],
)
@pytest.mark.parametrize("accept", ACCEPT)
def test_requests_the_document_forbids_get_a_documented_400(client, method, url, accept):
    response = validated(client, method, url, valid_request=False, headers={"Accept": accept})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        # Rules no pattern can say, or that depend on the answer: the request fits the document.
        ("/status/200;sleep=5..3", "sleep must be"),
        ("/status/200;sleep=1;sleep=2", "only once"),
        ("/status/204;size=5", "size needs an answer with a body"),
        ("/status/200;size=10;truncate=10", "truncate must be from 0 to 9"),
        ("/status/200;size=100;rate=1", "rate must send the body within 20 ms"),
        ("/status/200,418:1?sequence=live-weights", "take no weights"),
        ("/status/200:0,500:0", "add up to more than 0"),
        ("/status/200,204;size=5", "^entry 2 .+ of the list: size needs an answer with a body"),
        ("/status/418?sequence=live-bad&size=0&truncate=0", "truncate needs an answer with a body"),
    ],
)
@pytest.mark.parametrize("accept", ACCEPT)
def test_option_refusals_get_a_documented_400_naming_the_rule(client, url, rule, accept):
    response = validated(client, "GET", url, headers={"Accept": accept})
    assert response.status_code == 400
    assert re.search(rule, response.get_json(force=True)["detail"])


@pytest.mark.parametrize(
    ("method", "url", "status", "size"),
    [
        ("GET", "/status/503;retry_after=2;sleep=5", 503, None),
        ("POST", "/status/429;retry_after=date:5", 429, None),
        ("GET", "/status/503;retry_after=none,503;retry_after=none", 503, None),
        ("GET", "/status/200;sleep=1..3?seed=4", 200, None),
        ("PUT", "/status/201;stall=2", 201, None),
        ("GET", "/status/200?rate=100000&stall=0..1", 200, None),
        ("GET", "/status/200;size=100", 200, 100),
        ("PATCH", "/status/206;size=10", 206, 10),
        ("GET", f"/status/500;size={MAX_SIZE};rate=1000000", 500, MAX_SIZE),
        ("DELETE", "/status/302;size=5?location=/Kalimaha/", 302, 5),
        # Cut short: Content-Length says 70, and 65 bytes of the same text arrive.
        ("GET", "/status/200?size=70&truncate=65", 200, 65),
        ("GET", "/status/garbage;sleep=1", 501, None),
        ("GET", "/status/bad_chunk", 501, None),
        ("GET", "/status/200:0,cut_head?sleep=2", 501, None),
    ],
)
@pytest.mark.parametrize("accept", ACCEPT)
def test_entries_with_options_are_answered_as_documented(client, method, url, status, size, accept):
    response = validated(client, method, url, headers={"Accept": accept})
    assert response.status_code == status
    if size is not None:
        # Whatever Accept prefers: a sized body is text.
        assert response.mimetype == "text/plain"
        assert len(response.data) == size
        assert response.data == (LINE * (size // len(LINE) + 1))[:size]


def test_an_empty_sized_body_is_text_as_documented(client):
    """size=0: text/plain with no byte, which openapi-core cannot check (it wants data)."""
    response = client.get("/status/418?size=0", headers={"Accept": "application/json"})
    assert (response.status_code, response.mimetype, response.data) == (418, "text/plain", b"")
    documented = resolve_ref(SPEC, SPEC["paths"]["/status/{codes}"]["get"]["responses"]["4XX"])
    schema = documented["content"]["text/plain"]["schema"]
    # The document's components beside the schema, for its $refs to resolve.
    validate_schema("", {**schema, "components": SPEC["components"]})
    with pytest.raises(Exception, match="is not valid"):
        validate_schema("x", {**schema, "components": SPEC["components"]})


def test_sequences_are_listed_reported_and_forgotten_as_documented(client):
    assert validated(client, "DELETE", "/status/sequences/").status_code == 204
    assert validated(client, "GET", "/status/sequences/").get_json() == {"keys": []}
    # A refused request uses no attempt: the key is not even kept.
    assert validated(client, "GET", "/status/204?size=1&sequence=live-a").status_code == 400
    assert validated(client, "GET", "/status/sequences/").get_json() == {"keys": []}
    url = "/status/503;retry_after=3,200;stall=1..2?sleep=1&sequence=live-a"
    assert validated(client, "POST", url).status_code == 503
    assert validated(client, "GET", url).status_code == 200
    assert validated(client, "GET", "/status/reset?sequence=live-b").status_code == 501
    assert validated(client, "GET", "/status/sequences/").get_json() == {
        "keys": ["live-b", "live-a"]
    }
    assert validated(client, "HEAD", url).headers["X-Sequence-Attempt"] == "3"
    assert validated(client, "GET", "/status/sequences/").get_json() == {
        "keys": ["live-a", "live-b"]
    }
    report = validated(client, "GET", "/status/sequences/live-a").get_json()
    assert report["entries"] == ["503;retry_after=3", "200;stall=1..2"]
    attempts = report["attempts"]
    assert [attempt["method"] for attempt in attempts] == ["POST", "GET", "HEAD"]
    assert [attempt["served"] for attempt in attempts] == [
        "503;retry_after=3",
        *["200;stall=1..2"] * 2,
    ]
    assert attempts[0]["sent"] == "503;sleep=1;retry_after=3"
    assert all(re.fullmatch(r"200;sleep=1;stall=[12]", a["sent"]) for a in attempts[1:])
    options = validated(client, "OPTIONS", "/status/sequences/")
    assert options.status_code == 204
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "DELETE", "OPTIONS"}
    assert validated(client, "DELETE", "/status/sequences/").status_code == 204
    assert validated(client, "GET", "/status/sequences/").get_json() == {"keys": []}
    assert validated(client, "GET", "/status/sequences/live-a").status_code == 404


UNSAFE = ("post", "put", "patch", "delete")


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_a_method_a_path_does_not_document_gets_the_documented_405(client, path):
    """405 with Allow naming the documented methods, as components/responses/MethodNotAllowed.

    A path item's methods are the ones it allows, so these answers belong to no
    operation that openapi-core could match; they are checked against the
    shared response instead. (The redirects answer other methods 404, like any
    path no route matches.)
    """
    item = SPEC["paths"][path]
    refused = [method for method in UNSAFE if method not in item]
    if item.get(REDIRECT_MARK) or not refused:
        assert path.startswith("/status/{") or item.get(REDIRECT_MARK)
        return
    documented = resolve_ref(SPEC, SPEC["components"]["responses"]["MethodNotAllowed"])
    (media_type,) = documented["content"]
    schema = resolve_ref(SPEC, documented["content"][media_type]["schema"])
    allowed = {method.upper() for method in HTTP_METHODS.intersection(item)} | {"OPTIONS"}
    for method in refused:
        response = client.open(example_url(path), method=method.upper())
        assert response.status_code == 405
        assert response.mimetype == media_type
        validate_schema(response.get_json(force=True), schema)
        assert set(response.headers["Allow"].split(", ")) == allowed


@pytest.mark.parametrize(("code", "phrase"), CATALOGUE)
def test_every_catalogued_code_is_answered_as_documented(client, code, phrase):
    for accept in ACCEPT:
        response = validated(client, "GET", f"/status/{code}", headers={"Accept": accept})
        assert response.status_code == code


def test_a_preflight_and_a_conditional_request_are_answered_as_documented(client):
    preflight = {"Origin": "https://example.com", "Access-Control-Request-Method": "PUT"}
    assert validated(client, "OPTIONS", "/status/418", headers=preflight).status_code == 204
    for url in ("/openapi.json", "/docs"):
        etag = client.get(url).headers["ETag"]
        again = validated(client, "GET", url, headers={"If-None-Match": etag})
        assert again.status_code == 304


def test_an_undocumented_answer_fails_the_validation(client):
    """The check can fail: a media type the document does not list is refused."""
    response = client.get("/healthz")
    response.headers["Content-Type"] = "text/csv"
    with pytest.raises(Exception, match=r"(?i)media|content"):
        OPENAPI.validate_response(
            WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response)
        )


def send_too_much(port: int, method: str, url: str, headers: dict, body: bytes):
    """Send a request whose body is over the limit; return the answer and its body.

    waitress answers 413 and closes the connection while the client may still
    be sending the body, which now and then fails the client's socket call
    instead; the request is then sent again, a few times at most.
    """
    for attempt in range(3):
        try:
            return request(port, method, url, headers=headers, body=body)
        except OSError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_a_body_over_the_limit_is_answered_413_on_every_route():
    """Through the real server: waitress refuses the body before any route sees it."""
    options = waitress_options(SETTINGS)
    for name in ("host", "port", "threads"):
        options.pop(name)
    body = b"x" * (MAX_BODY * 4)
    with serving_in_thread(APP, **options) as port:
        for path, method in OPERATIONS:
            url = example_url(path)
            headers = {"Content-Type": "application/octet-stream", "Accept": "application/json"}
            response, data = send_too_much(port, method.upper(), url, headers, body)
            assert response.status == 413, (path, method, response.status)
            openapi_request = MockRequest(
                f"http://{LOOPBACK}:{port}",
                method,
                url,
                headers=headers,
                data=body,
                content_type=headers["Content-Type"],
            )
            OPENAPI.validate_response(
                openapi_request,
                MockResponse(
                    data if method != "head" else b"",
                    status_code=413,
                    headers=dict(response.getheaders()),
                    content_type=response.getheader("Content-Type"),
                ),
            )
