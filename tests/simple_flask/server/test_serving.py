"""Serving with waitress: its options, the open-file limit, bodies, proxies, listen failures."""

import json
import socket
import subprocess
import sys
import time
import warnings

import pytest
from waitress.adjustments import Adjustments

from simple_flask.core.settings import Settings
from simple_flask.server.serving import (
    BODY_READ_MARGIN,
    INTERNAL_SOCKETS,
    SPARE_DESCRIPTORS,
    TRUSTED_PROXY_HEADERS,
    waitress_options,
)
from tests.support import LOOPBACK, ROOT, START, free_port, running_server

MIB = 1024 * 1024


def test_waitress_options_follow_the_settings():
    options = waitress_options(Settings(host="::1", port=9000, threads=3, idle_timeout=20))
    assert options["host"] == "::1" and options["port"] == 9000
    assert options["threads"] == 3
    assert options["connection_limit"] == Settings().connection_limit + INTERNAL_SOCKETS
    assert options["channel_timeout"] == 20 and options["cleanup_interval"] == 10
    assert options["max_request_body_size"] == MIB + 1
    assert options["inbuf_overflow"] == MIB + BODY_READ_MARGIN
    assert options["asyncore_use_poll"] is True
    assert not any(char.isdigit() for char in options["ident"])
    assert options["clear_untrusted_proxy_headers"] is True
    assert "trusted_proxy" not in options


def test_a_trusted_proxy_brings_its_headers():
    options = waitress_options(Settings(trusted_proxy="10.0.0.1"))
    assert options["trusted_proxy"] == "10.0.0.1"
    assert options["trusted_proxy_count"] == 1
    assert options["trusted_proxy_headers"] == TRUSTED_PROXY_HEADERS


@pytest.mark.parametrize("settings", [Settings(), Settings(trusted_proxy="*", idle_timeout=1)])
def test_waitress_accepts_the_options_without_a_warning(settings):
    options = waitress_options(settings)
    # JSON-serialisable, so another process can be given exactly these.
    assert json.loads(json.dumps(options)) == options
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adjustments = Adjustments(**options)
    assert adjustments.connection_limit == options["connection_limit"]
    assert adjustments.asyncore_use_poll is True


def run_python(script: str) -> str:
    """Run `script` in a fresh interpreter from the checkout; return its stdout."""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_the_soft_open_file_limit_is_raised_towards_the_hard_one():
    script = (
        "import resource\n"
        "from simple_flask.server.serving import raise_open_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 2000))\n"
        "print(*(raise_open_file_limit(wanted) for wanted in (1500, 5000, 10)))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    first, second = run_python(script).splitlines()
    assert first == "1500 2000 2000"
    assert second == "(2000, 2000)"


def test_a_low_hard_limit_lowers_the_connection_limit_with_a_warning():
    script = (
        "import logging, resource\n"
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "from simple_flask.server.serving import affordable_connections\n"
        "from simple_flask.core.settings import Settings\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))\n"
        "print(affordable_connections(Settings()))\n"
        "print(affordable_connections(Settings(connection_limit=100)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [str(300 - SPARE_DESCRIPTORS), "100"]
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("WARNING the open-file limit (300) allows 236 connections")


@pytest.mark.slow
def test_a_low_open_file_limit_still_serves():
    low_limit_start = (
        "import resource, runpy, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    )
    command = [sys.executable, "-c", low_limit_start, str(ROOT / "start.py")]
    with running_server(command=command) as server:
        assert server.request("GET", "/")[0].status == 200
    assert "the open-file limit (256) allows 192 connections" in server.output()[1]


@pytest.mark.slow
def test_request_bodies_up_to_the_limit_pass_and_larger_ones_get_413():
    with running_server() as server:
        # The whole limit passes the size check (the route then refuses POST).
        response, _ = server.request("POST", "/", body=b"x" * MIB)
        assert response.status == 405
        # Refused from the header alone, before the body is sent. The timeout is
        # below the 30 s idle timeout: a server waiting for the body would hit it.
        with socket.create_connection((LOOPBACK, server.port), timeout=20) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MIB + 1))
            answer = sock.makefile("rb").read()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 ")
        assert b"Content-Type: application/problem+json" in head
        assert b"X-Request-Id: " in head
        assert json.loads(body)["status"] == 413


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_gets_413():
    with running_server(env={"SIMPLE_FLASK_MAX_REQUEST_BODY": "1000"}) as server:
        with socket.create_connection((LOOPBACK, server.port), timeout=20) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 600
            for _ in range(3):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            assert sock.recv(200).startswith(b"HTTP/1.1 413 ")


def logged_client(server, request_id: str) -> str:
    """The client address of the access-log line of request `request_id`, once it is written.

    Found by its id: other requests, such as the start-up probe's, may be
    logged before or after it.
    """
    deadline = time.monotonic() + 30
    while True:
        for text in server.output()[0].splitlines(keepends=True):
            # A line without its newline is still being written.
            if text.endswith("\n") and json.loads(text)["request_id"] == request_id:
                return json.loads(text)["client"]
        assert time.monotonic() < deadline, f"request {request_id} was never logged"
        time.sleep(0.02)


@pytest.mark.slow
def test_forwarded_headers_are_ignored_without_a_trusted_proxy():
    with running_server() as server:
        response, _ = server.request(
            "GET", "/", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "forged"}
        )
        assert response.status == 200
        assert logged_client(server, "forged") == LOOPBACK


@pytest.mark.slow
def test_forwarded_headers_count_from_the_trusted_proxy():
    with running_server(env={"SIMPLE_FLASK_TRUSTED_PROXY": LOOPBACK}) as server:
        response, _ = server.request(
            "GET",
            "/",
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Request-ID": "proxied"},
        )
        assert response.status == 200
        # One hop: the address the proxy saw.
        assert logged_client(server, "proxied") == "203.0.113.9"


@pytest.mark.slow
def test_a_port_in_use_exits_1_with_one_line():
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            START,
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "HOST": LOOPBACK, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert (
        line == f"simple-flask: cannot listen on {LOOPBACK} port {port} (HOST, PORT):"
        " Address already in use"
    )


@pytest.mark.slow
def test_an_address_this_machine_lacks_exits_2_with_one_line():
    # 192.0.2.0/24 is reserved for documentation: no machine has it; nothing is sent.
    result = subprocess.run(
        START,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOST": "192.0.2.1", "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "cannot listen on 192.0.2.1" in line and "Traceback" not in result.stderr


@pytest.mark.parametrize(("level", "queue_level"), [("INFO", "ERROR"), ("DEBUG", "DEBUG")])
def test_waitress_queue_warnings_show_at_debug_only(level, queue_level):
    script = (
        "import logging\n"
        "from simple_flask.server.serving import configure_logging\n"
        "from simple_flask.core.settings import Settings\n"
        f"configure_logging(Settings(log_level={level!r}))\n"
        "print(logging.getLevelName(logging.getLogger('waitress.queue').level))\n"
        "print(logging.getLevelName(logging.getLogger().level))\n"
    )
    assert run_python(script).split() == [queue_level, level]
