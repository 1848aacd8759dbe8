"""CORS on the root app: every route, error and preflight, from the configured origins."""

import subprocess
import sys

import pytest
from flask import Flask

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.core.status_headers import status_headers
from simple_flask.rest.cors import EXPOSE_HEADERS
from simple_flask_blueprint import make_blueprint
from tests.pages import block_after
from tests.support import ROOT

ORIGIN = "http://page.example:8000"
ALLOWED = ("https://a.example", "http://[::1]:8080", "http://127.0.0.1:9000")
# A path of every kind: a greeting, the blueprint, a status, the catalogue,
# the service routes, and a 400, 404 and 405.
PATHS = [
    ("GET", "/Ann/", 200),
    ("GET", "/blueprint/Ann/", 200),
    ("PUT", "/status/201", 201),
    ("GET", "/status/503", 503),
    ("GET", "/status/", 200),
    ("GET", "/healthz", 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/docs", 200),
    ("GET", f"/{'x' * 101}/", 400),
    ("GET", "/status/abc", 400),
    ("GET", "/no/such/path", 404),
    ("POST", "/Ann/", 405),
]


def preflight(client, path, method="PUT", headers="X-Trace"):
    return client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.fixture
def listed():
    """A client of the app allowing only the origins in ALLOWED."""
    return create_app({"TESTING": True, "SETTINGS": Settings(cors_origins=ALLOWED)}).test_client()


@pytest.mark.parametrize(("method", "path", "status"), PATHS)
def test_every_answer_is_readable_from_any_origin(client, method, path, status):
    response = client.open(path, method=method, headers={"Origin": ORIGIN})
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = [
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    ]
    assert sorted(exposed) == sorted(EXPOSE_HEADERS)
    # Credentials never go with "*" (the CORS protocol forbids it), and one
    # answer fits every origin, so caches need no Vary: Origin.
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" not in response.vary


def test_an_unexpected_error_is_readable_too():
    app = create_app({"TESTING": True, "SETTINGS": Settings()})

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom", headers={"Origin": ORIGIN})
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_exposed_headers_cover_what_the_status_service_sets():
    for code in range(200, 600):
        for method in ("GET", "PUT"):
            names = {
                name
                for name, _ in status_headers(code, location="/", method=method, content_length=1)
            }
            assert names <= set(EXPOSE_HEADERS), code
    assert {"Proxy-Authenticate", "X-Request-ID"} <= set(EXPOSE_HEADERS)
    assert len(EXPOSE_HEADERS) == len({name.lower() for name in EXPOSE_HEADERS})


@pytest.mark.parametrize("path", ["/Ann/", "/blueprint/", "/status/201", "/status/201/any/where"])
def test_a_preflight_allows_the_method_and_the_custom_header(client, path):
    response = preflight(client, path)
    # The greeting routes answer with Flask's automatic OPTIONS (200), the
    # status route with an empty 204: both are the "ok status" browsers need.
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"].lower() == "x-trace"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_preflight_of_a_status_route_is_an_empty_204(client):
    response = preflight(client, "/status/500")
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers


def test_a_preflight_of_an_unknown_path_is_a_readable_404(client):
    response = preflight(client, "/no/such/path")
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_plain_options_is_not_a_preflight(client):
    """Without Origin and Access-Control-Request-Method, OPTIONS /status/418 answers 418."""
    assert client.options("/status/418").status_code == 418


@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize(("method", "path", "status"), PATHS)
def test_a_listed_origin_is_named_back_with_credentials(listed, origin, method, path, status):
    response = listed.open(path, method=method, headers={"Origin": origin})
    assert response.status_code == status
    assert response.headers.getlist("Access-Control-Allow-Origin") == [origin]
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.vary
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    "origin",
    [
        ORIGIN,
        "https://a.example.evil.test",
        "https://a.example:443",
        "http://a.example",
        "http://1:8080",
        "http://[::2]:8080",
        "null",
    ],
)
def test_another_origin_gets_no_cors_headers(listed, origin):
    response = listed.get("/Ann/", headers={"Origin": origin})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.vary
    blocked = preflight(listed, "/status/201").headers
    assert "Access-Control-Allow-Origin" not in blocked


def test_a_listed_origin_may_preflight(listed):
    response = listed.options(
        "/status/201",
        headers={
            "Origin": ALLOWED[0],
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "X-Trace",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED[0]
    assert response.headers["Access-Control-Allow-Headers"].lower() == "x-trace"


def test_without_an_origin_a_listed_app_names_no_origin(listed):
    response = listed.get("/Ann/")
    assert "Access-Control-Allow-Origin" not in response.headers
    # A shared cache must still keep this answer apart from a cross-origin one.
    assert "Origin" in response.vary


def test_origins_come_from_the_environment():
    settings = Settings.from_env(
        {"SIMPLE_FLASK_CORS_ORIGINS": "https://a.example, https://b.example"}
    )
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    assert (
        client.get("/", headers={"Origin": "https://b.example"}).headers[
            "Access-Control-Allow-Origin"
        ]
        == "https://b.example"
    )
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/", headers={"Origin": "https://c.example"}).headers
    )


def test_the_blueprint_sets_no_cors_of_its_own():
    app = Flask("host")
    app.register_blueprint(make_blueprint(), url_prefix="/hi")
    response = app.test_client().get("/hi/Ann/", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert not [name for name in response.headers.keys() if name.startswith("Access-Control-")]


def test_the_docs_show_how_a_host_app_adds_cors(tmp_path):
    """docs/api.md's example runs, and its own assertions check the CORS headers it promises."""
    example = block_after("blueprint-cors-example", "docs/api.md")
    assert "Access-Control-Allow-Origin" in example
    script = tmp_path / "host_app.py"
    script.write_text(example)
    subprocess.run([sys.executable, str(script)], cwd=ROOT, check=True)
