"""The real server: start.py, the command line, and the other ways to serve the app."""

import json
import sys
from pathlib import Path

import pytest

from tests.support import SERVE, run_module, running_server

pytestmark = pytest.mark.slow

CONTRACT = [
    ("/", "Hallo from CORE!"),
    ("/Kalimaha/", "Hallo Kalimaha from CORE!"),
    ("/blueprint/", "Hallo!"),
    ("/blueprint/Kalimaha/", "Hallo Kalimaha!"),
]


def test_start_py_serves_the_contract_over_http():
    with running_server() as server:
        for path, text in CONTRACT:
            response, body = server.request("GET", path)
            assert (response.status, body.decode()) == (200, text), path
            assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
            response, body = server.request("GET", path, headers={"Accept": "application/json"})
            assert json.loads(body) == {"message": text}
        response, body = server.request("GET", "/" + "x" * 101 + "/")
        assert response.status == 400
        assert response.getheader("Content-Type") == "application/problem+json"
        assert not any(char.isdigit() for char in response.getheader("Server")), "no version"


def test_the_development_server_is_never_used():
    with running_server() as server:
        response, _ = server.request("GET", "/")
        assert "Werkzeug" not in (response.getheader("Server") or "")
    stdout, stderr = server.output()
    assert "development server" not in stdout + stderr


def test_cli_serve_flags_override_the_environment():
    command = SERVE
    # PORT in the environment names a port nobody listens on; --port wins.
    with running_server(command=command, env={"PORT": "1"}) as server:
        assert server.request("GET", "/Kalimaha/")[1] == b"Hallo Kalimaha from CORE!"


def test_waitress_serve_call_finds_the_factory():
    waitress_serve = Path(sys.executable).parent / "waitress-serve"
    command = [
        str(waitress_serve),
        "--listen",
        "{host}:{port}",
        "--call",
        "simple_flask:create_app",
    ]
    with running_server(command=command) as server:
        assert server.request("GET", "/blueprint/")[1] == b"Hallo!"


def test_flask_cli_finds_the_factory():
    routes = run_module("flask", "--app", "simple_flask", "routes").stdout
    assert "greeting.greet" in routes
    assert "simple_flask_blueprint.greet" in routes
    assert "/blueprint/<name>/" in routes


def test_cli_help_is_useful():
    help_text = run_module("simple_flask", "serve", "--help").stdout
    assert "--host" in help_text
    assert "--port" in help_text
    assert "waitress" in help_text
