"""Faults on demand through a real server and real clients: requests, urllib3, httpx and curl.

Each client must see each fault as the fault it is: a reset as a reset, a
clean close as an empty reply, a cut body as an incomplete one. Retry-After
values must be honoured by urllib3's Retry, and thousands of dropped
connections must leave the process as it was.
"""

import json
import math
import os
import shutil
import socket
import subprocess
import time
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tests.support import LOOPBACK, exchange, running_server, skip_or_fail

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    """One server for the module, started as the container starts it."""
    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def base(server) -> str:
    return f"http://{LOOPBACK}:{server.port}"


def logged(server, request_id: str, count: int) -> list[dict]:
    """Wait for `count` access-log lines of requests sent with X-Request-ID `request_id`.

    A line is written as its answer finishes, which may be after the client
    saw the answer (or the dropped connection); return every line with the id.
    """
    deadline = time.monotonic() + 30

    def lines() -> list[dict]:
        return [
            json.loads(text)
            for text in server.output()[0].splitlines(keepends=True)
            # A line without its newline is still being written.
            if text.endswith("\n") and f'"request_id":"{request_id}"' in text
        ]

    while len(found := lines()) < count:
        assert time.monotonic() < deadline, f"{len(found)} lines of {request_id}, not {count}"
        time.sleep(0.02)
    return found


def retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_requests_sees_a_reset_and_a_close(base, method):
    with pytest.raises(requests.ConnectionError, match="Connection reset by peer"):
        requests.request(method, f"{base}/status/reset", timeout=30)
    with pytest.raises(requests.ConnectionError, match=r"RemoteDisconnected|without response"):
        requests.request(method, f"{base}/status/close", timeout=30)


def test_requests_sees_a_cut_body(base):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base}/status/200?truncate=2", timeout=30)


def test_urllib3_retry_retries_a_reset(server, base):
    session = retrying_session(Retry(total=3, read=3, connect=0, backoff_factor=0))
    with pytest.raises(requests.ConnectionError, match="Max retries exceeded"):
        session.get(f"{base}/status/reset", headers={"X-Request-ID": "retried-reset"}, timeout=30)
    # One request and three retries, each reset, each logged once.
    lines = logged(server, "retried-reset", 4)
    assert len(lines) == 4
    assert all((line["path"], line["fault"]) == ("/status/reset", "reset") for line in lines)


def test_urllib3_retry_gets_through_a_flaky_endpoint(base):
    session = retrying_session(Retry(total=10, read=10, connect=0, backoff_factor=0))
    # Without a seed every request draws again; ten retries at 50% all failing is 1 in 2048.
    answers = [session.get(f"{base}/status/200:0.5,reset:0.5", timeout=30) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5


def test_httpx_sees_each_fault(base):
    with httpx.Client(timeout=30) as client:
        with pytest.raises(httpx.ReadError):
            client.get(f"{base}/status/reset")
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.get(f"{base}/status/close")
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
            client.get(f"{base}/status/200?truncate=3")
        assert client.get(f"{base}/status/418").status_code == 418


def test_httpx_retries_a_reset_on_a_new_connection(base):
    transport = httpx.HTTPTransport(retries=0)
    with httpx.Client(timeout=30, transport=transport) as client:
        with pytest.raises(httpx.ReadError):
            client.get(f"{base}/status/reset")
        # The pool dropped the dead connection: the next request is answered.
        assert client.get(f"{base}/status/200").status_code == 200


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(
    ("path", "exit_code", "message"),
    [
        ("/status/reset", 56, "Connection reset by peer"),
        ("/status/close", 52, "Empty reply from server"),
        ("/status/200?truncate=3", 18, "bytes remaining to read"),
        ("/status/200:0,reset:1?seed=7", 56, "Connection reset by peer"),
    ],
)
def test_curl_exit_codes(base, path, exit_code, message):
    result = subprocess.run(
        ["curl", "-sS", "-m", "30", f"{base}{path}"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == exit_code, result.stderr
    assert message in result.stderr


# What each client says of each malformed answer: the error, and words of its message.
MALFORMED_SEEN = {
    "garbage": {
        "requests": (requests.ConnectionError, "BadStatusLine"),
        "httpx": (httpx.RemoteProtocolError, "illegal status line"),
        "curl": (1, "HTTP/0.9"),
    },
    "bad_chunk": {
        "requests": (requests.exceptions.ChunkedEncodingError, "InvalidChunkLength"),
        "httpx": (httpx.RemoteProtocolError, "illegal chunk header"),
        "curl": (56, "chunked-encoding"),
    },
    # http.client and curl take the close for the end of the head, and miss
    # the body its Content-Length promised; h11 sees the head never end.
    "cut_head": {
        "requests": (requests.exceptions.ChunkedEncodingError, "IncompleteRead"),
        "httpx": (httpx.RemoteProtocolError, "without sending a response"),
        "curl": (18, "bytes remaining to read"),
    },
}


def fetch_with(client: str, url: str) -> None:
    """GET `url` with `client`; raise what it raises (curl: CalledProcessError)."""
    if client == "requests":
        requests.get(url, timeout=30)
    elif client == "httpx":
        httpx.get(url, timeout=30)
    else:
        subprocess.run(
            ["curl", "-sS", "-m", "30", url], capture_output=True, text=True, timeout=60, check=True
        )


@pytest.mark.parametrize("client", ["requests", "httpx", "curl"])
@pytest.mark.parametrize("fault", list(MALFORMED_SEEN))
@pytest.mark.parametrize("in_sequence", [False, True], ids=["entry", "sequence"])
def test_malformed_answers_are_seen_as_what_they_are(base, client, fault, in_sequence):
    if client == "curl" and shutil.which("curl") is None:
        skip_or_fail("curl is not installed")
    error, words = MALFORMED_SEEN[fault][client]
    key = f"malformed-{fault}-{client}"
    path = f"/status/{fault},200?sequence={key}" if in_sequence else f"/status/200:0,{fault}:1"
    if client == "curl":
        with pytest.raises(subprocess.CalledProcessError) as raised:
            fetch_with(client, base + path)
        assert raised.value.returncode == error and words in raised.value.stderr
    else:
        with pytest.raises(error, match=words):
            fetch_with(client, base + path)
    if in_sequence:
        # The next attempt of the sequence is its 200, on a new connection.
        assert requests.get(base + path, timeout=30).status_code == 200
        requests.delete(f"{base}/status/sequences/{key}", timeout=30)


def test_a_stall_sends_headers_at_once_and_the_body_late(server):
    stall_ms = 2000
    with socket.create_connection((LOOPBACK, server.port), timeout=30) as sock:
        sent = time.monotonic()
        sock.sendall(
            b"GET /status/200?stall=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % stall_ms
        )
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        # The head came alone: the body was still held back when it arrived.
        head, _, early_body = received.partition(b"\r\n\r\n")
        assert early_body == b""
        sock.settimeout(0)
        with pytest.raises(BlockingIOError):
            sock.recv(1, socket.MSG_PEEK)
        sock.settimeout(30)
        body = b""
        while chunk := sock.recv(65536):
            body += chunk
        body_after = time.monotonic() - sent
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nContent-Length: 6" in head
    assert body == b"200 OK"
    # Not before the stall asked for.
    assert body_after >= stall_ms / 1000, body_after


@pytest.mark.parametrize(("code", "seconds"), [(503, 1), (429, 2)])
def test_urllib3_retry_honours_the_retry_after_asked_for(server, base, code, seconds):
    retry = Retry(total=1, status_forcelist=[code], backoff_factor=0, raise_on_status=False)
    session = retrying_session(retry)
    request_id = f"retry-after-{code}"
    started = time.monotonic()
    response = session.get(
        f"{base}/status/{code}?retry_after={seconds}",
        headers={"X-Request-ID": request_id},
        timeout=30,
    )
    waited = time.monotonic() - started
    assert response.status_code == code
    assert response.headers["Retry-After"] == str(seconds)
    # Asked twice: the first answer and the retry its Retry-After was waited out for.
    assert len(logged(server, request_id, 2)) == 2
    assert waited >= seconds, waited


def test_retry_after_dates_parse_and_none_means_none(server, base):
    before = time.time()
    response = requests.get(f"{base}/status/503?retry_after=date:2", timeout=30)
    when = parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    # Rounded up to a whole second: at least 2 s ahead, at most 3.
    assert before + 2 <= when <= math.ceil(time.time()) + 2
    none = requests.get(f"{base}/status/429?retry_after=none", timeout=30)
    assert "Retry-After" not in none.headers
    retry = Retry(total=1, status_forcelist=[503], backoff_factor=0, raise_on_status=False)
    first_sent = time.time()
    retrying_session(retry).get(
        f"{base}/status/503?retry_after=date:2",
        headers={"X-Request-ID": "retry-after-date"},
        timeout=30,
    )
    first, retried = sorted(logged(server, "retry-after-date", 2), key=lambda line: line["time"])
    # urllib3 read the date and sent the retry once it had come, by the server's clock.
    date = int(first_sent) + 2
    assert datetime.fromisoformat(retried["time"]).timestamp() >= date, (first, retried)


def test_a_retry_after_date_always_leaves_the_seconds_asked_for(server, base):
    # Five answers spread over a second, so that each falls at another point
    # of a second: the date must never name a moment less than 2 s ahead.
    for tries in range(5):
        sent = time.time()
        response = requests.get(f"{base}/status/503?retry_after=date:2", timeout=30)
        when = parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
        # The answer left after `sent`: a date rounded down would fall short of
        # sent + 2 whenever it left late in its second.
        assert when >= sent + 2, (tries, when - sent)
        time.sleep(0.2)


def test_custom_headers_on_the_wire(base):
    response = requests.get(
        f"{base}/status/200",
        params={"header": ["Cache-Control:max-age=60", "X-Test:a b"]},
        timeout=30,
    )
    assert response.headers["Cache-Control"] == "max-age=60"
    assert response.headers["X-Test"] == "a b"
    refused = requests.get(f"{base}/status/200?header=Transfer-Encoding:chunked", timeout=30)
    assert refused.status_code == 400
    assert "Transfer-Encoding" in refused.json()["detail"]


def resources(pid: int) -> tuple[int, int]:
    """The open file descriptors and the threads of process `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def drop(port: int, fault: str) -> None:
    """Ask for `fault` on a new connection and read until the server drops it."""
    with socket.create_connection((LOOPBACK, port), timeout=30) as sock:
        sock.sendall(f"GET /status/{fault} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        try:
            assert sock.recv(1024) == b""
        except ConnectionResetError:
            pass


def greet(port: int) -> None:
    """GET / on a new connection and fail unless the whole greeting comes back."""
    data, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"Hallo from CORE!")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_thousands_of_dropped_connections_leak_nothing():
    # A server of its own, with no access log: the 2,000 lines would only fill a file.
    with running_server(env={"SIMPLE_FLASK_ACCESS_LOG": "false"}) as server:
        pid, port = server.process.pid, server.port
        for _ in range(20):
            greet(port)
        before = resources(pid)
        for fault in ("reset", "close"):
            for number in range(1000):
                drop(port, fault)
                if number % 50 == 0:
                    # Served all along.
                    greet(port)
        # The last connections are closed as the server gets to them.
        deadline = time.monotonic() + 30
        while resources(pid) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert resources(pid) == before
        print(f"fds, threads {before}")


# Headers that act beyond one answer: written out here, not read from the service.
BEYOND_THE_ANSWER = (
    "X-Accel-Redirect:/docs",
    "X-Accel-Limit-Rate:1",
    "X-Accel-Buffering:no",
    "X-Accel-Expires:60",
    "X-Accel-Charset:utf-8",
    "X-Sendfile:/etc/passwd",
    'Clear-Site-Data:"cookies"',
    "Strict-Transport-Security:max-age=60",
    "NEL:{}",
    "Report-To:{}",
    'Reporting-Endpoints:a="https://x.example"',
    'Alt-Svc:h2=":443"',
    "Set-Cookie2:a=1",
)


@pytest.mark.parametrize("header", BEYOND_THE_ANSWER)
def test_a_header_that_acts_beyond_the_answer_is_refused_naming_it(base, header):
    name = header.partition(":")[0]
    refused = requests.get(f"{base}/status/200", params={"header": header}, timeout=30)
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert f"header {name} may not be set" in refused.json()["detail"]
    assert name not in refused.headers


def test_an_answers_head_stays_under_4_kib_whatever_header_asks(server, base):
    # The most ?header= may add: two headers of the longest names and values the
    # byte budget allows, on a redirect with a Retry-After date, to a listed origin.
    name = "X-" + "n" * 98
    value = "v" * (1024 - 6 - 2 * (len(name) + 1))
    with socket.create_connection((LOOPBACK, server.port), timeout=30) as sock:
        query = f"header={name}1:{value}&header={name}2:{value}&retry_after=date:60"
        sock.sendall(
            f"GET /status/308?{query} HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n"
            f"X-Request-ID: {'r' * 128}\r\nConnection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, _ = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 308 ")
    assert len(head) + 4 < 4096, len(head)
    # One byte more is refused.
    refused = requests.get(
        f"{base}/status/308",
        params={"header": [f"{name}1:{value}v", f"{name}2:{value}"]},
        timeout=30,
    )
    assert refused.status_code == 400 and "2048 bytes" in refused.json()["detail"]
