"""Hostile clients on raw sockets against the real server: what one connection can make it hold.

Each attack runs against `python start.py` on a loopback port, and while it
runs (and after) a normal request is still answered. Timeouts here guard
against a hang; none of them measures speed.
"""

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LOOPBACK, Server, running_server

pytestmark = pytest.mark.slow

# How long a socket waits for the server before the test counts it as hung.
PATIENCE = 30
MIB = 1 << 20
PIPELINED = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(port: int, receive_buffer: int | None = None) -> socket.socket:
    """Open a raw loopback connection, with a small receive buffer if asked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        # Before connecting, so the window the client offers is small from the start.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(PATIENCE)
    sock.connect((LOOPBACK, port))
    return sock


def read_to_end(sock: socket.socket, timeout: float = PATIENCE) -> bytes:
    """Read until the server closes the connection (a FIN or a reset); fail if it never does."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {timeout} s: {data[:200]!r}") from None
    return data


def statuses(data: bytes) -> list[int]:
    """Return the status codes of the answers in `data`, in order (each has a Content-Length)."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
        assert status, data[:200]
        found.append(int(status.group(1)))
        length = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
        data = rest[int(length.group(1)) if length else len(rest) :]
    return found


def rss(pid: int) -> int:
    """Return the resident set size of process `pid` in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def normal_get(port: int, path: str = "/") -> None:
    """GET `path` on a new connection and fail unless the answer is a whole 200."""
    with connect(port) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = read_to_end(sock)
    assert statuses(answer) == [200], answer[:200]


def assert_clean(server: Server) -> None:
    """Fail if the server crashed or wrote a traceback."""
    assert server.process.poll() is None, "the server exited"
    assert "Traceback" not in server.output()[1]


def wait_until(predicate, timeout: float = PATIENCE) -> bool:
    """Poll `predicate` until it holds; False if it never did within `timeout` s (hung)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextlib.contextmanager
def connections(port: int, count: int, **options) -> Iterator[list[socket.socket]]:
    """Open `count` raw connections; close them all afterwards."""
    socks = [connect(port, **options) for _ in range(count)]
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def cpu_ticks(pid: int) -> int:
    """Return the CPU time process `pid` has used, in clock ticks (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def has_data(sock: socket.socket) -> bool:
    """Tell whether bytes from the server wait unread on `sock`, without reading them."""
    # Non-blocking: with a timeout set, recv() would first wait for bytes to come.
    sock.settimeout(0)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        sock.settimeout(PATIENCE)


def wait_until_idle(pid: int, quiet: float = 0.5, timeout: float = 60) -> None:
    """Return once process `pid` has used no CPU for `quiet` seconds: it has nothing left to do.

    A process with work gets a core within `quiet` seconds even on a loaded
    machine, so a still CPU clock is the end of its work, not a pause.
    """
    deadline = time.monotonic() + timeout
    before = cpu_ticks(pid)
    while True:
        time.sleep(quiet)
        now = cpu_ticks(pid)
        if now == before:
            return
        assert time.monotonic() < deadline, "the server never went idle"
        before = now


def test_pipelining_clients_that_never_read_hold_little_memory_and_no_thread():
    with running_server() as server:
        pid = server.process.pid
        for _ in range(3):
            normal_get(server.port, "/openapi.json")
        before = rss(pid)
        with connections(server.port, 20, receive_buffer=4096) as attackers:
            for sock in attackers:
                sock.sendall(PIPELINED * 274)
            # Answers reached every attacker, and then the server stopped: each
            # connection holds what it may, and waits for a client that never reads.
            assert wait_until(lambda: all(has_data(sock) for sock in attackers), PATIENCE)
            wait_until_idle(pid)
            peak = rss(pid)
            # Every worker thread is free: a normal request is answered.
            normal_get(server.port)
            peak = max(peak, rss(pid))
        normal_get(server.port)
        assert_clean(server)
    print(f"RSS {before / MIB:.1f} MiB before, {peak / MIB:.1f} MiB under attack")
    assert peak - before < 20 * MIB, f"RSS grew by {(peak - before) / MIB:.1f} MiB"


def test_a_pipelining_client_that_reads_gets_every_answer_in_order():
    paths = [f"/status/{code}" for code in (200, 201, 202, 418, 404, 200, 203, 410, 200, 226)]
    with running_server() as server:
        with connect(server.port) as sock:
            burst = b"".join(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in paths)
            sock.sendall(burst + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers = read_to_end(sock)
    assert statuses(answers) == [200, 201, 202, 418, 404, 200, 203, 410, 200, 226, 200]


def server_sockets(pid: int) -> int:
    """Count the sockets process `pid` has open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def test_a_client_that_never_reads_is_closed_after_the_idle_timeout():
    with running_server(env={"SIMPLE_FLASK_IDLE_TIMEOUT": "2"}) as server:
        pid = server.process.pid
        # The listening socket alone, once the start-up probe's connection is gone.
        assert wait_until(lambda: server_sockets(pid) == 1)
        # Taken before connecting: the server's idle clock starts later.
        began = time.monotonic()
        with connect(server.port, receive_buffer=4096) as sock:
            sock.sendall(PIPELINED * 274)
            assert wait_until(lambda: server_sockets(pid) == 2)
            # Nothing read for the idle timeout: the server closes its end and
            # drops what it still held (the client never reads, so it is the
            # server's descriptors that tell).
            assert wait_until(lambda: server_sockets(pid) == 1, PATIENCE), "never closed"
            took = time.monotonic() - began
            normal_get(server.port)
    print(f"closed after {took:.2f} s")
    # Not before the 2 s of silence it is allowed.
    assert took >= 2, f"closed after {took:.1f} s"


def read_one_answer(sock: socket.socket) -> bytes:
    """Read one answer, its head and the body its Content-Length announces."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv_or_fail(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
    while len(body) < int(length.group(1)):
        body += recv_or_fail(sock)
    return head + b"\r\n\r\n" + body


def recv_or_fail(sock: socket.socket) -> bytes:
    """Receive the next bytes; fail if the server closes or sends nothing for PATIENCE s."""
    sock.settimeout(PATIENCE)
    chunk = sock.recv(65536)
    assert chunk, "closed before the whole answer came"
    return chunk


FRAMING = {
    "Content-Length beside Transfer-Encoding": (
        b"POST /status/201 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /status/418 HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "Transfer-Encoding in HTTP/1.0": (
        b"POST /status/201 HTTP/1.0\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"GET /status/418 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    ),
}


@pytest.mark.parametrize("raw", FRAMING.values(), ids=FRAMING.keys())
def test_ambiguous_framing_is_refused_with_400_and_the_connection_closed(raw):
    with running_server() as server:
        with connect(server.port) as sock:
            sock.sendall(raw)
            answer = read_to_end(sock)
        normal_get(server.port)
        assert_clean(server)
    # One answer, 400, and the end of the connection: nothing after it is served.
    assert statuses(answer) == [400], answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 400


def test_a_flood_of_empty_lines_gets_400_and_is_closed():
    with running_server() as server:
        with connect(server.port) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(100):
                    sock.sendall(b"\r\n" * 512)
            normal_get(server.port)
            # Closed by the server, not left open for the idle timeout.
            answer = read_to_end(sock)
        normal_get(server.port)
        assert_clean(server)
    assert statuses(answer) == [400], answer


# Bytes of empty lines the server takes before it refuses them (docs/security.md).
EMPTY_LINE_LIMIT = 64


def closed_by_server(sock: socket.socket) -> bool:
    """Tell whether the server has closed `sock`: read what it sent and look for the end."""
    sock.settimeout(0)
    try:
        while sock.recv(1 << 20):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(PATIENCE)


def test_empty_lines_do_not_hold_a_connection_past_the_idle_timeout():
    with running_server(env={"SIMPLE_FLASK_IDLE_TIMEOUT": "1"}) as server:
        with connect(server.port) as sock:
            sent = 0
            closed = False
            # One byte every 0.1 s: the idle timeout (1 s, checked every second)
            # closes the connection after some 20 bytes; were empty lines
            # counted as activity, only the limit would, at its 64th byte.
            while not closed and sent <= EMPTY_LINE_LIMIT:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"\n")
                sent += 1
                time.sleep(0.1)
                closed = closed_by_server(sock)
        normal_get(server.port)
    assert closed, "still open after the empty-line limit"
    assert sent < EMPTY_LINE_LIMIT - 8, f"closed after {sent} bytes of empty lines"


OVER_LIMIT = (
    b"POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
    b"Origin: https://page.example\r\nExpect: 100-continue\r\n\r\n"
)


def test_expect_100_continue_over_the_limit_gets_413_at_once_and_the_body_is_not_read():
    with running_server() as server:
        with connect(server.port) as sock:
            sock.sendall(OVER_LIMIT)
            # Below the 30 s idle timeout: a server waiting for the body would reach it.
            sock.settimeout(20)
            first = sock.recv(65536)
            # The 413, not a 100 Continue, and then the end of the connection.
            assert first.startswith(b"HTTP/1.1 413 "), first
            rest = read_to_end(sock)
        normal_get(server.port)
    head, _, body = (first + rest).partition(b"\r\n\r\n")
    assert b"100 Continue" not in head
    assert b"\r\nConnection: close" in head
    assert json.loads(body)["status"] == 413


def test_the_413_detail_names_the_real_limit():
    with running_server() as server:
        with connect(server.port) as sock:
            sock.sendall(OVER_LIMIT.replace(b"Expect: 100-continue\r\n", b""))
            answer = read_to_end(sock)
    detail = json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]
    assert "1048576" in detail and "1048577" not in detail, detail


def test_a_huge_method_writes_a_short_log_line():
    with running_server() as server:
        with connect(server.port) as sock:
            sock.sendall(b"M" * 250_000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_one_answer(sock)
        normal_get(server.port)
        # The line is written as the answer finishes, which may be after the client has it.
        assert wait_until(lambda: '"status":405' in server.output()[0]), "the 405 was not logged"
        stdout = server.output()[0]
    assert statuses(answer) == [405], answer[:200]
    lines = stdout.splitlines()
    longest = max(len(line.encode()) for line in lines)
    assert longest < 4096, f"a log line of {longest} bytes"


CORS_CASES = {
    "413": b"POST / HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Length: 9999999\r\n\r\n",
    "400": b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Length: x\r\n\r\n",
    "400 framing": (
        b"POST / HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Length: 1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    ),
}


def cors_headers(head: bytes) -> dict[str, str]:
    """Return the CORS headers of an answer's head (names in lower case), and Vary: Origin."""
    found = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.lower()
        if name.startswith("access-control-"):
            found[name] = value.strip()
        elif name == "vary" and "origin" in value.lower():
            # The app's Vary names Accept too where it negotiates; Origin is CORS's.
            found["vary"] = "Origin"
    return found


@pytest.mark.parametrize(
    ("origins", "origin"),
    [("*", "https://page.example"), ("https://page.example", "https://page.example")],
)
def test_the_servers_own_errors_carry_the_apps_cors_headers(origins, origin):
    with running_server(env={"SIMPLE_FLASK_CORS_ORIGINS": origins}) as server:
        app_answer = read_answers_of(
            server.port,
            b"GET /nope HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\nConnection: close\r\n\r\n"
            % origin.encode(),
        )
        expected = cors_headers(app_answer.partition(b"\r\n\r\n")[0])
        assert "access-control-allow-origin" in expected
        for raw in CORS_CASES.values():
            answer = read_answers_of(server.port, raw.replace(b"{origin}", origin.encode()))
            head = answer.partition(b"\r\n\r\n")[0]
            assert cors_headers(head) == expected, head
        # A head over the limit names its Origin before the rest: its 431 carries it too.
        too_large = read_answers_of(
            server.port,
            b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\nX-Big: " % origin.encode()
            + b"b" * 300_000
            + b"\r\n\r\n",
        )
        assert statuses(too_large) == [431]
        assert cors_headers(too_large.partition(b"\r\n\r\n")[0]) == expected
        # Without an Origin, as the app without one.
        plain = read_answers_of(
            server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        too_large = read_answers_of(
            server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 300_000 + b"\r\n\r\n"
        )
        assert statuses(too_large) == [431]
        assert cors_headers(too_large.partition(b"\r\n\r\n")[0]) == cors_headers(
            plain.partition(b"\r\n\r\n")[0]
        )


def read_answers_of(port: int, raw: bytes) -> bytes:
    """Send `raw` on a new connection; return everything answered until it closes."""
    with connect(port) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        return read_to_end(sock)
