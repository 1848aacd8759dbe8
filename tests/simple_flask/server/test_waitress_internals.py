"""The graceful shutdown, problem+json errors and the per-connection bounds, against a real server.

Each test drives one of them through a GracefulServer in this process, so a
waitress release that changes what they rely on fails here as well as in the
start-up proofs (test_proofs.py). The tests wait for events (a log line, a
socket state, a report), never for the clock.
"""

import contextlib
import errno
import http.client
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from waitress.trigger import trigger as Trigger

from simple_flask.server import waitress_internals
from simple_flask.server.waitress_internals import DrainReport, GracefulServer, drain
from tests.support import LOOPBACK

pytestmark = pytest.mark.slow

# An answer larger than a connection may have waiting to be sent.
BIG = waitress_internals.MAX_BUFFERED_ANSWER + 1


class SleepyApp:
    """A WSGI app: /sleep?ms=N sleeps N ms, /boom raises, anything else answers "ok"."""

    def __init__(self):
        self.started = threading.Event()
        # /hold waits for this: a request that outlives whatever the test does.
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/big":
            body = b"b" * BIG
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("secret detail that must not reach the client")
        if environ["PATH_INFO"] == "/hold":
            self.started.set()
            self.release.wait(60)
        if environ["PATH_INFO"] == "/sleep":
            self.started.set()
            time.sleep(int(environ["QUERY_STRING"].split("=")[1]) / 1000)
        body = environ["wsgi.input"].read() or b"ok"
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]


@contextlib.contextmanager
def serving(grace: float = 5.0, app=None, **options):
    """Run a GracefulServer on a loopback port in a thread; yield (server, port, reports)."""
    app = app or SleepyApp()
    server = GracefulServer(
        app, host=LOOPBACK, port=0, threads=4, asyncore_use_poll=True, ident="t", **options
    )
    ((_, port),) = server.addresses()
    reports: list[DrainReport] = []
    thread = threading.Thread(target=lambda: reports.append(server.serve(grace)), daemon=True)
    thread.start()
    try:
        yield server, port, reports
    finally:
        if isinstance(app, SleepyApp):
            app.release.set()
        server.request_stop()
        server.request_stop()
        thread.join(10)
        assert not thread.is_alive(), "the server loop did not stop"


def connect(port: int) -> socket.socket:
    """Open a raw loopback connection."""
    return socket.create_connection((LOOPBACK, port), timeout=5)


def read_response(sock: socket.socket) -> bytes:
    """Read until the server closes the connection or a full small response arrived."""
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"Content-Length: (\d+)", head, re.I)
            if length and len(body) >= int(length.group(1)):
                break
    return data


def wait_for(predicate, timeout: float = 5.0) -> None:
    """Poll `predicate` until it is true or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def test_a_request_in_flight_finishes_and_new_connections_are_refused():
    app = SleepyApp()
    with serving(app=app) as (server, port, reports):
        # The listening socket is closed at once: a new client is refused,
        # while the request in flight is still held.
        client = stopped_while_held(server, port, app, reports)
        app.release.set()
        response = read_response(client)
        client.close()
        wait_for(lambda: reports, timeout=10)
    assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"\r\n\r\nok")
    (report,) = reports
    assert (report.in_flight, report.abandoned) == (1, 0)


def stopped_while_held(server, port, app, reports) -> socket.socket:
    """Send a request the app holds, ask the server to stop; return the client once the
    drain has begun (the listener refuses) and is still waiting for that request."""
    client = connect(port)
    client.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    assert app.started.wait(5)
    server.request_stop()
    wait_for(lambda: _refused(port), timeout=10)
    assert not reports
    return client


def _refused(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def test_idle_and_half_sent_connections_are_closed_at_once():
    grace = 120
    with serving(grace=grace) as (server, port, reports):
        keep_alive = connect(port)
        keep_alive.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(keep_alive).endswith(b"ok")
        half_line = connect(port)
        half_line.sendall(b"GET /half-a-reque")
        silent = connect(port)
        wait_for(lambda: len(server.channels()) == 3)
        server.request_stop()
        # Within the grace period, with room to spare: none of them held the drain.
        wait_for(lambda: reports, timeout=grace / 2)
        for sock in (keep_alive, half_line, silent):
            assert sock.recv(100) == b"", "the server should have closed it"
            sock.close()
    (report,) = reports
    assert (report.in_flight, report.abandoned) == (0, 0)
    assert report.seconds < grace / 2


def test_a_request_whose_body_is_arriving_is_waited_for():
    with serving() as (server, port, reports):
        client = connect(port)
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        wait_for(lambda: any(c.request is not None for c in server.channels()))
        server.request_stop()
        # The drain has begun (the listener is closed) and keeps the connection:
        # the rest of the body is read and answered.
        wait_for(lambda: _refused(port), timeout=10)
        client.sendall(b"world")
        response = read_response(client)
        client.close()
        wait_for(lambda: reports)
    assert response.endswith(b"helloworld")
    assert reports[0].in_flight == 1


def test_a_request_outliving_the_grace_period_is_cut_off():
    app = SleepyApp()
    with serving(grace=0.3, app=app) as (server, port, reports):
        client = connect(port)
        client.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        assert app.started.wait(5)
        server.request_stop()
        # The request is held until the test ends: only the grace period ends the drain.
        wait_for(lambda: reports, timeout=30)
        # Closed without an answer: the client sees the end of the stream.
        assert client.recv(100) == b""
        client.close()
    assert (reports[0].in_flight, reports[0].abandoned) == (1, 1)
    assert reports[0].seconds >= 0.3


def test_a_second_stop_ends_the_drain_at_once():
    app = SleepyApp()
    with serving(grace=300, app=app) as (server, port, reports):
        client = stopped_while_held(server, port, app, reports)
        server.request_stop()
        # Neither the held request nor the grace period ended it.
        wait_for(lambda: reports, timeout=30)
        assert not app.release.is_set()
        client.close()
    assert reports[0].abandoned == 1


def test_waitress_errors_are_problem_json_with_a_request_id(capsys):
    with serving(max_request_body_size=100) as (_, port, _reports):
        cases = {
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n": 413,
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n": 400,
            b"BAD\x01 / HTTP/1.1\r\n\r\n": 400,
        }
        for raw, code in cases.items():
            client = connect(port)
            client.sendall(raw)
            response = read_response(client)
            client.close()
            head, _, body = response.partition(b"\r\n\r\n")
            # A request line waitress cannot read gets an HTTP/1.0 answer.
            assert re.match(rf"HTTP/1\.[01] {code} ".encode(), head), head
            assert b"Content-Type: application/problem+json" in head
            assert re.search(rb"X-Request-Id: [0-9a-f]{32}\r\n", head + b"\r\n", re.I)
            problem = json.loads(body)
            assert problem["status"] == code and problem["type"] == "about:blank"
            assert b"waitress" not in body
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # One line each. (A line is written after its answer is sent: the next
    # request may be logged first.)
    assert sorted(line["status"] for line in lines) == sorted(cases.values())


def test_an_app_that_raises_gets_a_500_problem_without_the_detail():
    with serving() as (_, port, _reports):
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        connection.request("GET", "/boom")
        response = connection.getresponse()
        body = response.read()
        connection.close()
    assert response.status == 500
    assert response.getheader("Content-Type") == "application/problem+json"
    assert b"secret detail" not in body and b"Traceback" not in body


def test_every_internal_name_is_used_only_in_this_package():
    """No module outside simple_flask.server.waitress_internals touches waitress's internals."""
    import simple_flask

    # The package as it is imported: the checkout, or an installed copy in the matrix.
    top = Path(simple_flask.__file__).parent
    package = Path(waitress_internals.__file__).parent
    internal = re.compile(
        r"wasyncore|waitress\.(channel|parser|server|task|trigger|utilities|adjustments)"
        r"|task_dispatcher|\._map\b"
    )
    offenders = [
        str(path.relative_to(top))
        for path in top.rglob("*.py")
        if package not in path.parents and internal.search(path.read_text())
    ]
    assert offenders == []
    assert package == top / "server" / "waitress_internals"


def parse_answers(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split `data` into (head, body) pairs, each body as long as its Content-Length."""
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
        answers.append((head, rest[:length]))
        data = rest[length:]
    return answers


def the_channel(server: GracefulServer):
    """Wait for the server's only connection; return its channel."""
    wait_for(lambda: len(server.channels()) == 1)
    return server.channels()[0]


def small_buffers(server: GracefulServer, port: int):
    """Connect with small socket buffers at both ends; return the client socket and its channel.

    The kernel then holds little of what the server sends, and answers the
    client does not read wait in the channel.
    """
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((LOOPBACK, port))
    channel = the_channel(server)
    channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return client, channel


def test_a_pipelined_burst_queues_a_few_requests_and_holds_the_rest_unparsed():
    app = SleepyApp()
    with serving(app=app) as (server, port, _reports):
        client = connect(port)
        burst = b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 19
        client.sendall(burst + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert app.started.wait(5)
        # The first request is held: what the channel has parsed of the burst is all there is.
        channel = the_channel(server)
        assert len(channel.requests) == 1 + waitress_internals.MAX_QUEUED_REQUESTS
        assert channel.held and not channel.readable()
        app.release.set()
        data = b""
        client.settimeout(30)
        while chunk := client.recv(65536):
            data += chunk
        client.close()
    answers = parse_answers(data)
    assert len(answers) == 21 and all(head.startswith(b"HTTP/1.1 200") for head, _ in answers)


def test_answers_a_client_does_not_read_park_its_requests_without_a_worker_thread():
    with serving() as (server, port, _reports):
        client, channel = small_buffers(server, port)
        client.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        # The kernel's buffers fill, then the first answer waits in the
        # channel and the next request is given back rather than served.
        wait_for(lambda: channel.parked, timeout=10)
        # At most the cap and the one answer that crossed it wait in memory.
        cap = waitress_internals.MAX_BUFFERED_ANSWER
        assert cap < channel.total_outbufs_len < cap + BIG + 1024
        assert channel.requests
        dispatcher = server.server.task_dispatcher
        wait_for(lambda: dispatcher.active_count == 0)
        # Once the client reads, the parked requests are served.
        data = b""
        client.settimeout(5)
        while len(data) < 3 * BIG:
            data += client.recv(1 << 20)
        client.close()
    assert data.count(b"HTTP/1.1 200 OK") == 3


def test_the_sweep_closes_a_connection_whose_client_reads_nothing():
    with serving(channel_timeout=1, cleanup_interval=1) as (server, port, _reports):
        client, channel = small_buffers(server, port)
        client.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        wait_for(lambda: channel.stuck(time.time() + 1), timeout=10)
        # The sweep, every second, closes it once it has been stuck for a second.
        wait_for(lambda: not server.channels(), timeout=30)
        client.close()


def test_empty_lines_beyond_the_limit_get_400_and_are_not_activity():
    with serving() as (server, port, _reports):
        quiet = connect(port)
        channel = the_channel(server)
        before = channel.last_activity
        quiet.sendall(b"\r\n")
        wait_for(lambda: channel.blank_bytes == 2)
        assert channel.last_activity == before
        quiet.close()
        flood = connect(port)
        flood.sendall(b"\r\n" * waitress_internals.MAX_EMPTY_LINE_BYTES)
        response = read_response(flood)
        flood.close()
    assert response.startswith(b"HTTP/1.0 400 Bad Request")
    assert b"empty lines" in response


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
)
def test_the_framing_parser_refuses_ambiguous_framing(head):
    with serving() as (_, port, _reports):
        client = connect(port)
        client.sendall(head + b"0\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        client.settimeout(5)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(65536):
                data += chunk
        client.close()
    ((head_out, body),) = parse_answers(data)
    assert re.match(rb"HTTP/1\.[01] 400 ", head_out)
    assert b"Transfer-Encoding" in body


def test_expect_100_continue_over_the_limit_gets_413_without_100_continue():
    with serving(max_request_body_size=101) as (_, port, _reports):
        client = connect(port)
        client.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n"
        )
        response = read_response(client)
        # Then the end of the connection, without waiting for the body.
        assert client.recv(100) == b""
        client.close()
    assert response.startswith(b"HTTP/1.1 413 ")
    assert json.loads(response.partition(b"\r\n\r\n")[2])["detail"] == (
        "The request body exceeds the limit of 100 bytes."
    )


def test_extra_headers_go_on_waitresss_errors_and_a_failure_leaves_them_out():
    seen = []

    def extra(origin, method):
        seen.append((origin, method))
        if origin == "https://fails.example":
            raise RuntimeError("no headers today")
        return [("Access-Control-Allow-Origin", origin)]

    app = SleepyApp()
    server = GracefulServer(
        app,
        host=LOOPBACK,
        port=0,
        threads=2,
        ident="t",
        extra_headers=extra,
        max_request_body_size=10,
    )
    ((_, port),) = server.addresses()
    thread = threading.Thread(target=server.serve, args=(1,), daemon=True)
    thread.start()
    try:
        answers = []
        for origin in ("https://page.example", "https://fails.example"):
            client = connect(port)
            client.sendall(
                b"PUT / HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\nContent-Length: 11\r\n\r\n"
                % origin.encode()
            )
            answers.append(read_response(client))
            client.close()
    finally:
        server.request_stop()
        server.request_stop()
        thread.join(10)
    assert seen == [("https://page.example", "PUT"), ("https://fails.example", "PUT")]
    assert b"\r\nAccess-Control-Allow-Origin: https://page.example\r\n" in answers[0]
    assert answers[1].startswith(b"HTTP/1.1 413 ") and b"Access-Control" not in answers[1]


def test_after_a_stop_a_request_sent_on_a_kept_alive_connection_is_answered_with_close(
    monkeypatch,
):
    # A window long enough that the request below is sent within it, however loaded the machine.
    window = 30
    monkeypatch.setattr(drain, "LAST_CALL_SECONDS", window)
    with serving() as (server, port, reports):
        client = connect(port)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(client).endswith(b"ok")
        server.request_stop()
        wait_for(lambda: _refused(port), timeout=10)
        # The drain has begun. Within LAST_CALL_SECONDS of its last answer the
        # connection is kept for the request its client may be sending.
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response = read_response(client)
        assert client.recv(100) == b""
        client.close()
        wait_for(lambda: reports, timeout=window)
    assert response.startswith(b"HTTP/1.1 200 OK") and b"\r\nConnection: close\r\n" in response
    # Once answered, the drain ended: it did not wait out the window.
    assert reports[0].seconds < window


def test_pending_input_tells_a_waiting_request_from_silence_and_from_a_closed_end():
    with serving() as (server, port, _reports):
        client = connect(port)
        channel = the_channel(server)
        assert waitress_internals.pending_input(channel) is False
        client.close()
        wait_for(lambda: not server.channels() or waitress_internals.pending_input(channel) is None)


def test_a_stop_asked_while_the_loop_closes_its_trigger_is_no_error(monkeypatch):
    """A second SIGTERM as the server ends: the trigger it would pull is closed already."""
    with serving() as (server, _port, _reports):
        (trigger,) = [obj for obj in list(server._map.values()) if isinstance(obj, Trigger)]

        def closed(thunk=None):
            # What pulling does once the loop has closed the trigger's pipe.
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

        with monkeypatch.context() as patched:
            patched.setattr(trigger, "pull_trigger", closed)
            server.request_stop()
            server.request_stop()
