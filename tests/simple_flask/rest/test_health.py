"""GET /healthz, and `simple-flask healthcheck`, the container's standard-library probe."""

import concurrent.futures
import contextlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from simple_flask.server.healthcheck import check, probe_address
from tests.support import LOOPBACK, ROOT, free_port, running_server, web_modules_after

HEALTHCHECK = [sys.executable, "-m", "simple_flask", "healthcheck"]


def test_healthz_answers_200_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.data) == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_head_without_a_body(client):
    response = client.head("/healthz")
    assert (response.status_code, response.data) == (200, b"")


def test_healthz_refuses_other_methods_as_problem_json(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "::1"),
        ("::1", "::1"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_a_wildcard_host_is_probed_on_loopback(host, address):
    assert probe_address(host) == address


@contextlib.contextmanager
def fake_server(handler_class):
    """Serve `handler_class` on a loopback port in a thread; yield the port."""
    # Threads, so that stopping it does not wait for a handler still sleeping.
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def answering(code: int, release: threading.Event | None = None):
    """Return a request handler class that answers every GET with `code`.

    With `release`, each answer waits until the test sets it: a server that
    is as slow as the test wants, with no clock involved.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if release is not None:
                release.wait(60)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def returned(call, patience: float = 60):
    """Return what `call()` returns; fail if it has not returned after `patience` s (hung)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=patience)
    finally:
        pool.shutdown(wait=False)


def test_check_is_healthy_on_a_200():
    with fake_server(answering(200)) as port:
        assert check(LOOPBACK, port) == (True, "")


def test_check_is_unhealthy_on_another_status():
    with fake_server(answering(503)) as port:
        healthy, why = check(LOOPBACK, port)
    assert not healthy and "503" in why


def test_check_is_unhealthy_when_nothing_listens():
    healthy, why = check(LOOPBACK, free_port())
    assert not healthy and "ConnectionRefusedError" in why


def test_check_is_unhealthy_when_the_answer_is_too_slow():
    release = threading.Event()
    with fake_server(answering(200, release)) as port:
        try:
            # The answer is held back until check() has given up on it.
            began = time.monotonic()
            healthy, why = returned(lambda: check(LOOPBACK, port, timeout=0.5))
            took = time.monotonic() - began
        finally:
            release.set()
    assert not healthy and "within 0.5s" in why
    # It waited the whole timeout before giving up.
    assert took >= 0.5, took


def test_check_is_unhealthy_when_a_connection_is_never_answered():
    # A listening socket nobody accepts on: the connection opens, no answer comes.
    with socket.socket() as mute:
        mute.bind((LOOPBACK, 0))
        mute.listen(1)
        began = time.monotonic()
        healthy, why = returned(lambda: check(LOOPBACK, mute.getsockname()[1], timeout=0.5))
        took = time.monotonic() - began
    assert not healthy and "within 0.5s" in why
    assert took >= 0.5, took


def run_healthcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `simple-flask healthcheck` with `env` added to a clean environment."""
    base = {"PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*HEALTHCHECK, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        # A guard against a hang: the command gives up after 2 s by itself.
        timeout=60,
    )


@pytest.mark.slow
def test_healthcheck_command_passes_against_the_real_server_on_the_configured_port():
    with running_server() as server:
        # HOST is 127.0.0.1 here; PORT tells the probe where to ask.
        result = run_healthcheck({"HOST": LOOPBACK, "PORT": str(server.port)})
        assert result.returncode == 0, result.stderr
        assert result.stdout == result.stderr == ""
        # A wildcard HOST is asked on loopback.
        result = run_healthcheck({"HOST": "0.0.0.0", "PORT": str(server.port)})
        assert result.returncode == 0, result.stderr
        # Flags win over the environment.
        result = run_healthcheck({"PORT": "1"}, "--port", str(server.port))
        assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_healthcheck_command_fails_with_1_when_nothing_answers():
    result = run_healthcheck({"PORT": str(free_port())})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("unhealthy: http://127.0.0.1:") and "/healthz" in line


@pytest.mark.slow
def test_healthcheck_command_gives_up_after_2_seconds():
    release = threading.Event()
    with fake_server(answering(200, release)) as port:
        try:
            # Timed from before the command starts: its 2 s begin later.
            began = time.monotonic()
            result = run_healthcheck({"PORT": str(port)})
            took = time.monotonic() - began
        finally:
            release.set()
    assert result.returncode == 1
    assert "within 2s" in result.stderr
    assert took >= 2, took


@pytest.mark.slow
def test_healthcheck_command_reports_a_bad_port_with_exit_1():
    result = run_healthcheck({"PORT": "abc"})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "PORT='abc' is not allowed" in line


@pytest.mark.slow
def test_healthcheck_imports_neither_flask_nor_waitress():
    script = (
        "from simple_flask.server.cli import main\n"
        "try:\n"
        "    main(['healthcheck', '--port', '1'])\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    assert web_modules_after(script) == []


def test_given_settings_are_used_without_reading_the_environment(monkeypatch):
    """create_app with SETTINGS does not read (or refuse) the environment's settings."""
    from simple_flask import create_app
    from simple_flask.core.settings import Settings

    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("SIMPLE_FLASK_MAX_SLEEP_MS", "-1")
    app = create_app({"SETTINGS": Settings(max_sleep_ms=1234)})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    # The cap given is the one the status service applies, not the environment's.
    assert client.get("/status/200?sleep=1235").status_code == 400
    assert "1234" in client.get("/status/200?sleep=1235").get_json(force=True)["detail"]
