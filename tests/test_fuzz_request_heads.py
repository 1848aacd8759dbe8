"""Malformed request heads over raw sockets against the real server: never a 500, a
traceback, a hang past the idle timeout or a crash.

hypothesis builds request lines and headers from pieces that break the
grammar (methods, targets, versions, line ends, header names, framing
headers); each goes to one `python start.py` on loopback. The run is bounded
in examples and in time.
"""

import contextlib
import re
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import LOOPBACK, Server, running_server

pytestmark = pytest.mark.slow

IDLE_TIMEOUT = 1
# waitress checks idle connections every second: a connection that is sent
# nothing more is closed within this long.
CLOSED_WITHIN = IDLE_TIMEOUT + 2.5
# How long one example waits for its answer before setting its socket aside;
# set-aside sockets are checked together at the end, for the hang.
QUICK_WAIT = 0.3
# The fuzzing stops sending new examples after this long.
BUDGET_SECONDS = 25

METHODS = st.sampled_from(
    [
        *(b"GET", b"POST", b"PUT", b"OPTIONS", b"get", b"G\x00T", b"", b"PRI", b"CONNECT"),
        *(b"\xff", b"M" * 300, b"GET GET", b"G:T", b"\r\n"),
    ]
)
TARGETS = st.one_of(
    st.sampled_from(
        [
            *(b"/", b"/openapi.json", b"/status/418", b"*", b"http://x/", b"//x", b"/%zz", b"/?"),
            *(b"/\x00", b"/" + b"a" * 5000, b"", b"/ /", b"/\xc3\x28", b"x://[::1", b"/#f"),
        ]
    ),
    st.binary(max_size=40),
)
VERSIONS = st.sampled_from(
    [
        *(b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 ", b"http/1.1", b"", b"HTTP/9.9"),
        *(b"HTTP/1", b"HTTP/1.1\x00", b"HTTP/1.10", b"HTTP/0.9"),
    ]
)
SPACES = st.sampled_from([b" ", b"  ", b"\t", b""])
LINE_ENDS = st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n"])
NAMES = st.one_of(
    st.sampled_from(
        [
            *(b"Host", b"Content-Length", b"Transfer-Encoding", b"Expect", b"Connection"),
            *(b"Origin", b"X_Under", b"Bad Name", b"", b" Host", b"Host ", b"X-\x00", b"\xff"),
            b"X-Request-ID",
        ]
    ),
    st.binary(max_size=12),
)
VALUES = st.one_of(
    st.sampled_from(
        [
            *(b"0", b"-1", b"abc", b"4, 4", b"chunked", b"chunked, gzip", b"gzip, chunked", b""),
            *(b"identity", b"100-continue", b"close", b"keep-alive", b"9" * 40, b" 3", b"x\x00y"),
            *(b"https://page.example", b"\xff\xfe", b"a" * 3000),
        ]
    ),
    st.binary(max_size=40),
)
SEPARATORS = st.sampled_from([b": ", b":", b" : ", b"", b":\t"])
HEADERS = st.lists(st.tuples(NAMES, SEPARATORS, VALUES, LINE_ENDS), max_size=6)
HEADS = st.tuples(METHODS, SPACES, TARGETS, SPACES, VERSIONS, LINE_ENDS, HEADERS).map(
    lambda parts: (
        b"".join(parts[:6])
        + b"".join(name + sep + value + end for name, sep, value, end in parts[6])
    )
)
BODIES = st.one_of(st.just(b""), st.binary(max_size=24), st.just(b"0\r\n\r\n"))


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(env={"SIMPLE_FLASK_IDLE_TIMEOUT": str(IDLE_TIMEOUT)}) as served:
        yield served


def complete(data: bytes) -> bool:
    """Tell whether `data` holds a whole final answer (its head and Content-Length bytes)."""
    while data.startswith(b"HTTP/1.1 100 "):
        data = data.partition(b"\r\n\r\n")[2]
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    length = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
    return bool(length) and len(body) >= int(length.group(1))


def check_answers(data: bytes, sent: bytes) -> None:
    """Fail unless every answer in `data` has a well-formed status line and no server error."""
    if not data:
        return
    for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data):
        # 501 is the answer RFC 9112 6.1 asks for to a transfer coding the
        # server does not know; any other 5xx is a failure.
        assert int(status) < 500 or int(status) == 501, f"{int(status)} for {sent[:300]!r}"
    assert re.match(rb"HTTP/1\.[01] \d{3} [^\r\n]*\r\n", data), data[:200]


def read_until_closed(sock: socket.socket, data: bytes, deadline: float) -> tuple[bytes, bool]:
    """Read until the server closes the connection or `deadline`; return data and whether closed."""
    while True:
        # Past the deadline, one last look at what has arrived already.
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


class Fuzz:
    """The state of one fuzzing run: when it began, and the sockets still waiting for an end."""

    def __init__(self, server: Server):
        self.server = server
        self.began = time.monotonic()
        self.examples = 0
        # (socket, what was sent, what came back, when it was sent)
        self.waiting: list[tuple[socket.socket, bytes, bytes, float]] = []

    def send(self, raw: bytes) -> None:
        sock = socket.create_connection((LOOPBACK, self.server.port), timeout=5)
        sent_at = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        data, closed = read_until_closed(sock, b"", sent_at + QUICK_WAIT)
        self.examples += 1
        if closed or complete(data):
            check_answers(data, raw)
            sock.close()
        else:
            self.waiting.append((sock, raw, data, sent_at))

    def finish(self) -> None:
        """Fail unless every set-aside connection was closed within the idle timeout."""
        try:
            for sock, raw, data, sent_at in self.waiting:
                data, closed = read_until_closed(sock, data, sent_at + CLOSED_WITHIN)
                assert closed or complete(data), f"no end in {CLOSED_WITHIN} s for {raw[:300]!r}"
                check_answers(data, raw)
        finally:
            for sock, *_ in self.waiting:
                sock.close()


def test_malformed_request_heads_get_no_500_traceback_hang_or_crash(server):
    fuzz = Fuzz(server)

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(head=HEADS, end=st.sampled_from([b"\r\n\r\n", b"\r\n", b"\n\n", b""]), body=BODIES)
    def one_head(head, end, body):
        if time.monotonic() - fuzz.began > BUDGET_SECONDS:
            return
        fuzz.send(head + end + body)

    try:
        one_head()
    finally:
        fuzz.finish()
    assert fuzz.examples >= 50
    assert server.process.poll() is None, "the server exited"
    stderr = server.output()[1]
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr[-3000:]
    # And it still answers a normal request.
    response, _ = server.request("GET", "/")
    assert response.status == 200
    print(f"{fuzz.examples} heads, {len(fuzz.waiting)} closed by the idle timeout")
