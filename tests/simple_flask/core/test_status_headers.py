"""The headers each status code needs, and the list browsers may read."""

import pytest

from simple_flask.core.status_headers import (
    EXPOSED_HEADERS,
    METHODS,
    allowed_methods,
    status_headers,
)

CODES = range(200, 600)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def headers(code: int, method: str = "GET", content_length: int = 10) -> dict[str, str]:
    return dict(
        status_headers(code, location="/there", method=method, content_length=content_length)
    )


def test_every_header_the_service_sets_is_exposed_and_every_exposed_one_is_set():
    names = {name for code in CODES for method in METHODS for name in headers(code, method)}
    assert names == set(EXPOSED_HEADERS)


@pytest.mark.parametrize("code", [code for code in range(300, 400) if code != 304])
def test_every_3xx_but_304_carries_location(code):
    assert headers(code) == {"Location": "/there"}


def test_304_and_codes_outside_3xx_carry_no_location():
    assert "Location" not in headers(304)
    assert not [code for code in CODES if not 300 <= code < 400 and "Location" in headers(code)]


def test_401_carries_a_basic_challenge():
    challenge = headers(401)["WWW-Authenticate"]
    assert challenge.startswith('Basic realm="')


@pytest.mark.parametrize("method", METHODS)
def test_405_allows_every_other_method_of_the_route(method):
    allowed = headers(405, method)["Allow"].split(", ")
    assert method not in allowed
    assert set(allowed) < set(METHODS)
    assert len(allowed) == len(METHODS) - (2 if method in ("GET", "HEAD") else 1)


def test_head_gets_the_same_allow_as_get():
    assert allowed_methods("HEAD") == allowed_methods("GET") == "POST, PUT, PATCH, DELETE, OPTIONS"


@pytest.mark.parametrize("code", [429, 503])
def test_429_and_503_carry_retry_after_in_seconds(code):
    assert headers(code)["Retry-After"].isascii()
    assert int(headers(code)["Retry-After"]) >= 0


def test_416_names_an_empty_resource():
    assert headers(416) == {"Content-Range": "bytes */0"}


@pytest.mark.parametrize("length", [1, 19, 47])
def test_206_says_it_carries_the_whole_body(length):
    assert headers(206, content_length=length) == {
        "Content-Range": f"bytes 0-{length - 1}/{length}"
    }


def test_206_without_a_body_claims_no_range():
    assert headers(206, method="GET", content_length=0) == {}


@pytest.mark.parametrize("code", [407, 426])
def test_407_and_426_carry_no_hop_by_hop_header(code):
    # PEP 3333 forbids them; waitress answers 500 to an application that sends one.
    assert headers(code) == {}


def test_no_code_gets_a_hop_by_hop_header():
    assert not [
        (code, name)
        for code in CODES
        for method in METHODS
        for name in headers(code, method)
        if name.lower() in HOP_BY_HOP
    ]


@pytest.mark.parametrize("code", [200, 201, 299, 400, 404, 418, 500, 599])
def test_other_codes_need_no_header(code):
    assert headers(code) == {}
