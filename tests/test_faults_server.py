"""Faults on demand through a real server and real clients: requests, urllib3, httpx and curl.

Each client must see each fault as the fault it is: a reset as a reset, a
clean close as an empty reply, a cut body as an incomplete one. Retry-After
values must be honoured by urllib3's Retry, and thousands of dropped
connections must leave the process as it was.
"""

import os
import shutil
import socket
import subprocess
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tests.support import LOOPBACK, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    """One server for the module, started as the container starts it."""
    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def base(server) -> str:
    return f"http://{LOOPBACK}:{server.port}"


def access_lines(server, path: str) -> list[str]:
    """The access-log lines written so far for requests of `path` (without its query)."""
    return [line for line in server.output()[0].splitlines() if f'"path":"{path}"' in line]


def retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_requests_sees_a_reset_and_a_close(base, method):
    with pytest.raises(requests.ConnectionError, match="Connection reset by peer"):
        requests.request(method, f"{base}/status/reset", timeout=5)
    with pytest.raises(requests.ConnectionError, match=r"RemoteDisconnected|without response"):
        requests.request(method, f"{base}/status/close", timeout=5)


def test_requests_sees_a_cut_body(base):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base}/status/200?truncate=2", timeout=5)


def test_urllib3_retry_retries_a_reset(server, base):
    before = len(access_lines(server, "/status/reset"))
    session = retrying_session(Retry(total=3, read=3, connect=0, backoff_factor=0))
    with pytest.raises(requests.ConnectionError, match="Max retries exceeded"):
        session.get(f"{base}/status/reset", timeout=5)
    # One request and three retries, each reset, each logged once.
    lines = access_lines(server, "/status/reset")[before:]
    assert len(lines) == 4 and all(line.endswith('"fault":"reset"}') for line in lines)


def test_urllib3_retry_gets_through_a_flaky_endpoint(base):
    session = retrying_session(Retry(total=10, read=10, connect=0, backoff_factor=0))
    # Without a seed every request draws again; ten retries at 50% all failing is 1 in 2048.
    answers = [session.get(f"{base}/status/200:0.5,reset:0.5", timeout=5) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5


def test_httpx_sees_each_fault(base):
    with httpx.Client(timeout=5) as client:
        with pytest.raises(httpx.ReadError):
            client.get(f"{base}/status/reset")
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.get(f"{base}/status/close")
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
            client.get(f"{base}/status/200?truncate=3")
        assert client.get(f"{base}/status/418").status_code == 418


def test_httpx_retries_a_reset_on_a_new_connection(base):
    transport = httpx.HTTPTransport(retries=0)
    with httpx.Client(timeout=5, transport=transport) as client:
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
        ["curl", "-sS", "-m", "10", f"{base}{path}"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == exit_code, result.stderr
    assert message in result.stderr


def test_a_stall_sends_headers_at_once_and_the_body_late(base):
    started = time.monotonic()
    with requests.get(f"{base}/status/200?stall=600", stream=True, timeout=5) as response:
        headers_after = time.monotonic() - started
        body = response.raw.read()
        body_after = time.monotonic() - started
    assert response.status_code == 200 and body == b"200 OK"
    assert headers_after < 0.3
    assert 0.6 <= body_after < 1.5


@pytest.mark.parametrize(("code", "seconds"), [(503, 1), (429, 2)])
def test_urllib3_retry_honours_the_retry_after_asked_for(base, code, seconds):
    retry = Retry(total=1, status_forcelist=[code], backoff_factor=0, raise_on_status=False)
    session = retrying_session(retry)
    started = time.monotonic()
    response = session.get(f"{base}/status/{code}?retry_after={seconds}", timeout=10)
    waited = time.monotonic() - started
    assert response.status_code == code
    assert response.headers["Retry-After"] == str(seconds)
    # Two answers of a few ms each, and one wait of the value asked for.
    assert abs(waited - seconds) <= seconds * 0.1, waited


def test_retry_after_dates_parse_and_none_means_none(base):
    before = time.time()
    response = requests.get(f"{base}/status/503?retry_after=date:2", timeout=5)
    when = parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    assert int(before) + 2 <= when <= time.time() + 2
    assert "Retry-After" not in requests.get(f"{base}/status/429?retry_after=none").headers
    retry = Retry(total=1, status_forcelist=[503], backoff_factor=0, raise_on_status=False)
    started = time.monotonic()
    retrying_session(retry).get(f"{base}/status/503?retry_after=date:1", timeout=10)
    # urllib3 waits until the date, which has whole seconds: at most the value asked.
    assert time.monotonic() - started <= 1.2


def test_custom_headers_on_the_wire(base):
    response = requests.get(
        f"{base}/status/200", params={"header": ["Cache-Control:max-age=60", "X-Test:a b"]}
    )
    assert response.headers["Cache-Control"] == "max-age=60"
    assert response.headers["X-Test"] == "a b"
    refused = requests.get(f"{base}/status/200?header=Transfer-Encoding:chunked")
    assert refused.status_code == 400
    assert "Transfer-Encoding" in refused.json()["detail"]


def resources(pid: int) -> tuple[int, int]:
    """The open file descriptors and the threads of process `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def drop(port: int, fault: str) -> None:
    """Ask for `fault` on a new connection and read until the server drops it."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        sock.sendall(f"GET /status/{fault} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        try:
            assert sock.recv(1024) == b""
        except ConnectionResetError:
            pass


def greeting_ms(port: int) -> float:
    started = time.perf_counter()
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"Hallo from CORE!")
    return (time.perf_counter() - started) * 1000


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_thousands_of_dropped_connections_leak_nothing():
    # A server of its own, with no access log: the 2,000 lines would only fill a file.
    with running_server(env={"SIMPLE_FLASK_ACCESS_LOG": "false"}) as server:
        pid, port = server.process.pid, server.port
        for _ in range(20):
            greeting_ms(port)
        before = resources(pid)
        slowest = 0.0
        for fault in ("reset", "close"):
            for number in range(1000):
                drop(port, fault)
                if number % 50 == 0:
                    slowest = max(slowest, greeting_ms(port))
        deadline = time.monotonic() + 5
        while resources(pid) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert resources(pid) == before
        assert slowest < 100, f"a greeting took {slowest:.1f} ms"
        print(f"fds, threads {before}; slowest greeting {slowest:.1f} ms")
