"""The greeting contract of the root app, through Flask's test client."""

import json
from http import HTTPStatus

import pytest

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

CONTRACT = [
    ("/", "Hallo from CORE!"),
    ("/Kalimaha/", "Hallo Kalimaha from CORE!"),
    ("/blueprint/", "Hallo!"),
    ("/blueprint/Kalimaha/", "Hallo Kalimaha!"),
]


@pytest.mark.parametrize(("path", "text"), CONTRACT)
def test_plain_text_by_default(client, path, text):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept" in response.vary


@pytest.mark.parametrize(("path", "text"), CONTRACT)
def test_json_when_preferred(client, path, text):
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"message": text}


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        ("application/json;q=0.5, text/plain;q=0.9", "text/plain"),
        ("text/plain;q=0.1, application/json", "application/json"),
        ("application/*", "application/json"),
        ("*/*", "text/plain"),
        (BROWSER_ACCEPT, "text/plain"),
        ("image/png", "text/plain"),
        ("", "text/plain"),
    ],
)
def test_accept_q_values_are_honoured(client, accept, mimetype):
    assert client.get("/Ann/", headers={"Accept": accept}).mimetype == mimetype


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html", "application/json"])
@pytest.mark.parametrize("prefix", ["", "/blueprint"])
def test_markup_in_a_name_never_comes_back_as_html(client, accept, prefix):
    name = "<img src=x onerror=alert(1)>"
    response = client.get(f"{prefix}/{name}/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype in {"text/plain", "application/json"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert name in response.get_data(as_text=True) or name in json.dumps(response.get_json())


@pytest.mark.parametrize("prefix", ["", "/blueprint"])
def test_redirects_to_the_trailing_slash_without_html(client, prefix):
    response = client.get(f"{prefix}/<img src=x>")
    assert response.status_code == 308
    assert response.location.endswith(f"{prefix}/%3Cimg%20src=x%3E/")
    assert response.mimetype == "text/plain"


def test_a_unicode_name_is_decoded(client):
    assert client.get("/Zo%C3%AB%20%C3%85str%C3%B6m/").get_data(as_text=True) == (
        "Hallo Zoë Åström from CORE!"
    )


def assert_problem(response, status, detail_part):
    assert response.status == f"{status} {HTTPStatus(status).phrase}"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = json.loads(response.get_data())
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert detail_part in body["detail"]
    return body


@pytest.mark.parametrize("prefix", ["", "/blueprint"])
@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("x" * 101, "1 to 100 characters long, got 101"),
        ("%C3%A9" * 101, "got 101"),
        ("bell%07", "U+0007"),
        ("%E2%80%AEevil", "U+202E"),
    ],
)
def test_invalid_names_are_problems(client, prefix, name, detail):
    body = assert_problem(client.get(f"{prefix}/{name}/"), 400, detail)
    assert body["title"] == "Bad Request"


def test_a_name_of_exactly_100_characters_is_fine(client):
    assert client.get("/" + "é" * 100 + "/").status_code == 200


@pytest.mark.parametrize("path", ["/no/such/path", "/blueprint/a/b/", "/Kalimaha/extra/"])
def test_unknown_paths_are_404_problems(client, path):
    body = assert_problem(client.get(path, headers={"Accept": BROWSER_ACCEPT}), 404, "not found")
    assert body["title"] == "Not Found"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/Kalimaha/", "/blueprint/", "/blueprint/Kalimaha/"])
def test_wrong_methods_are_405_problems_with_allow(client, method, path):
    response = client.open(path, method=method)
    assert_problem(response, 405, "not allowed")
    assert set(response.allow) == {"GET", "HEAD", "OPTIONS"}


def test_head_has_no_body_and_the_same_type(client):
    response = client.head("/Kalimaha/")
    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_an_unexpected_error_is_a_500_problem_without_a_traceback(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    body = assert_problem(client.get("/boom"), 500, "unexpected")
    assert "secret" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8443", "", "a b", "[::1", "x/y", "exa\tmple"]
)
def test_the_routing_redirect_points_at_a_path_whatever_the_host(app, host):
    """The Location of /name -> /name/ is relative: no Host header can send it elsewhere."""
    environ = {"HTTP_HOST": host} if host else {}
    response = app.test_client().get("/Kalimaha", environ_overrides=environ)
    assert response.status == "308 Permanent Redirect"
    assert response.headers["Location"] == "/Kalimaha/"
    assert response.get_data(as_text=True) == "Redirecting to /Kalimaha/"


def test_the_routing_redirect_keeps_the_query(client):
    response = client.get("/blueprint/Ann?x=1&y=%20")
    assert response.headers["Location"] == "/blueprint/Ann/?x=1&y=%20"


def test_a_conditional_answer_carries_the_registered_phrase(client):
    etag = client.get("/openapi.json").headers["ETag"]
    response = client.get("/openapi.json", headers={"If-None-Match": etag})
    assert response.status == "304 Not Modified"


def test_no_rule_has_defaults_a_url_could_redirect_to(app):
    """redirect_defaults is off: no rule's defaults could ever match a URL's values."""
    assert app.url_map.redirect_defaults is False
    for rule in app.url_map.iter_rules():
        # A default of None is never a value a converter gives.
        assert all(value is None for value in (rule.defaults or {}).values()), rule


@pytest.mark.parametrize("path", ["/", "/Ann/", "/blueprint/", "/blueprint/Ann/", "/status/418"])
def test_matching_is_the_same_with_redirect_defaults_on(app, path):
    on = app.url_map.bind("localhost")
    on.map.redirect_defaults = True
    try:
        with_redirects = on.match(path)
    finally:
        on.map.redirect_defaults = False
    assert app.url_map.bind("localhost").match(path) == with_redirects
