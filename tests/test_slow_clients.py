"""Slow and idle clients cannot lock others out of the real server (loopback, bounded)."""

import contextlib
import http.client
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LOOPBACK, running_server, skip_or_fail

pytestmark = pytest.mark.slow

HALF_OPEN = 1000
# Each held connection costs a descriptor here and one in the server.
NEEDED_DESCRIPTORS = HALF_OPEN + 200


@pytest.fixture(autouse=True)
def enough_descriptors():
    """Raise this process's soft open-file limit for the held sockets; restore it afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NEEDED_DESCRIPTORS:
        message = f"the hard open-file limit {hard} is below {NEEDED_DESCRIPTORS}"
        skip_or_fail(message)
    if soft != resource.RLIM_INFINITY and soft < NEEDED_DESCRIPTORS:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NEEDED_DESCRIPTORS, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def held_connections(port: int, count: int, payload: bytes) -> Iterator[list[socket.socket]]:
    """Open `count` loopback connections that each send `payload` and then hold; close them all."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((LOOPBACK, port), timeout=30)
            sockets.append(sock)
            if payload:
                sock.sendall(payload)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def open_sockets(pid: int) -> int:
    """Count the sockets process `pid` has open."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def wait_for_sockets(pid: int, at_least: int, timeout: float = 30) -> None:
    """Wait until process `pid` holds `at_least` sockets (it has accepted the connections)."""
    deadline = time.monotonic() + timeout
    while open_sockets(pid) < at_least:
        assert time.monotonic() < deadline, f"server holds {open_sockets(pid)} sockets"
        time.sleep(0.05)


def get_status(port: int, path: str = "/") -> int:
    """GET `path` on a new connection; return the status once the whole answer is read.

    The timeout is a guard against a hang, not a measure of speed.
    """
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status


def still_open(sock: socket.socket) -> bool:
    """Tell whether the server still holds `sock` open (no end-of-stream waiting for us)."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def test_a_thousand_half_open_connections_do_not_lock_out_a_normal_request():
    with running_server() as server:
        pid = server.process.pid
        with held_connections(server.port, HALF_OPEN, b"GET /Kalimaha/?half-a-request-li") as held:
            # The listening socket plus every held connection, all accepted.
            wait_for_sockets(pid, HALF_OPEN + 1)
            # Every normal request is answered while the slow clients hold theirs...
            assert [get_status(server.port, "/Kalimaha/") for _ in range(5)] == [200] * 5
            # ...which were held open, not dropped to make room...
            assert all(still_open(sock) for sock in held)
            # ...and one that finishes its request gets its answer.
            held[0].settimeout(30)
            held[0].sendall(b"ne HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert held[0].recv(100).startswith(b"HTTP/1.1 200 OK")


def test_a_stalled_connection_is_closed_after_the_idle_timeout():
    with running_server(env={"SIMPLE_FLASK_IDLE_TIMEOUT": "1"}) as server:
        # Taken before connecting: the server's silence clock starts later.
        began = time.monotonic()
        with held_connections(server.port, 2, b"GET / HT") as (stalled, silent):
            for sock in (stalled, silent):
                # Closed after 1 s of silence, checked every second; still open
                # after 30 s would mean never.
                sock.settimeout(30)
                assert sock.recv(100) == b""
            took = time.monotonic() - began
    # Not before the second of silence it is allowed.
    assert took >= 1, took


def test_the_connection_limit_counts_clients_only():
    limit = 10
    with running_server(env={"SIMPLE_FLASK_CONNECTION_LIMIT": str(limit)}) as server:
        with held_connections(server.port, limit, b"") as held:
            wait_for_sockets(server.process.pid, limit + 1)
            # Every one of the `limit` connections is served...
            held[-1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert held[-1].recv(100).startswith(b"HTTP/1.1 200 OK")
            # ...and one more waits in the listen backlog, unanswered,
            extra = socket.create_connection((LOOPBACK, server.port), timeout=30)
            try:
                extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                # Half a second for a wrong answer to show: a slow machine can
                # only hide one, never fail a server that holds the limit.
                extra.settimeout(0.5)
                with pytest.raises(TimeoutError):
                    extra.recv(100)
                # Not even accepted: the listening socket and the held ones only.
                assert open_sockets(server.process.pid) == limit + 1
                # until a held connection goes away.
                held[0].close()
                extra.settimeout(30)
                assert extra.recv(100).startswith(b"HTTP/1.1 200 OK")
            finally:
                extra.close()
