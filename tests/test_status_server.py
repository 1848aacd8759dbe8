"""The status-code service through a real waitress server and real HTTP clients.

Protocol faults (a body after a 204, a wrong status line, a client left
waiting) only show on the wire, so every registered code goes through here.
"""

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http import HTTPStatus

import pytest

from tests.support import LOOPBACK, running_server

pytestmark = pytest.mark.slow

REGISTERED = {status.value: status.phrase for status in HTTPStatus if 200 <= status.value <= 599}
NO_BODY = {204, 205, 304}
PER_CODE_HEADERS = {"location", "www-authenticate", "allow", "retry-after", "content-range"}
HOP_BY_HOP = {"proxy-authenticate", "upgrade", "transfer-encoding", "te", "trailers"}
# Headers that differ from one response to the next, whatever the request.
PER_RESPONSE = {"date", "x-request-id"}


@pytest.fixture(scope="module")
def server():
    """One server for the module, started as the container starts it."""
    with running_server() as running:
        yield running


def expected_headers(code: int) -> dict[str, str]:
    """The per-code headers a GET of /status/<code> must carry, written out by hand."""
    if 300 <= code < 400 and code != 304:
        return {"location": "/status/200"}
    if code == 401:
        return {"www-authenticate": 'Basic realm="simple_flask", charset="UTF-8"'}
    if code == 405:
        return {"allow": "POST, PUT, PATCH, DELETE, OPTIONS"}
    if code in (429, 503):
        return {"retry-after": "1"}
    if code == 416:
        return {"content-range": "bytes */0"}
    return {}


def lower_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    return {key.lower(): value for key, value in response.getheaders()}


def raw_exchange(port: int, request: bytes, timeout: float = 30) -> bytes:
    """Send raw bytes on a new connection and read until the server closes it."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_every_registered_code_on_one_persistent_connection(server):
    # One connection for all of them: a stray body byte after a 204 or 205 would
    # garble the next response, and a missing length would leave the client waiting.
    connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
    try:
        for code, phrase in REGISTERED.items():
            for accept in ("text/plain", "application/json"):
                connection.request("GET", f"/status/{code}", headers={"Accept": accept})
                response = connection.getresponse()
                body = response.read()
                headers = lower_headers(response)
                where = f"{code} ({accept})"
                assert response.version == 11, where
                assert (response.status, response.reason) == (code, phrase), where
                assert headers["cache-control"] == "no-store", where
                assert not HOP_BY_HOP & set(headers), where
                got = {key: value for key, value in headers.items() if key in PER_CODE_HEADERS}
                if code in NO_BODY:
                    assert body == b"", where
                    assert "content-type" not in headers, where
                    # RFC 9110: no Content-Length on 204; 205 says its content is empty.
                    assert headers.get("content-length") == ("0" if code == 205 else None), where
                    assert got == expected_headers(code), where
                    continue
                assert headers["content-length"] == str(len(body)), where
                if accept == "text/plain":
                    assert headers["content-type"] == "text/plain; charset=utf-8", where
                    assert body.decode() == f"{code} {phrase}", where
                else:
                    assert headers["content-type"] == "application/json", where
                    assert json.loads(body) == {"code": code, "description": phrase}, where
                if code == 206:
                    assert got == {"content-range": f"bytes 0-{len(body) - 1}/{len(body)}"}, where
                else:
                    assert got == expected_headers(code), where
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "status_line"),
    [(f"/status/{code}", f"{code} {phrase}") for code, phrase in REGISTERED.items()]
    + [
        ("/status/299", "299 Unknown Status Code"),
        ("/status/599", "599 Unknown Status Code"),
        ("/status/100", "400 Bad Request"),
    ],
)
def test_the_status_line_on_the_wire(server, path, status_line):
    received = raw_exchange(
        server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert received.startswith(f"HTTP/1.1 {status_line}\r\n".encode())


@pytest.mark.parametrize("code", sorted(REGISTERED))
def test_head_gets_the_headers_of_get_and_no_body(server, code):
    get, _ = server.request("GET", f"/status/{code}")
    head, head_body = server.request("HEAD", f"/status/{code}")
    assert (head.status, head.reason) == (get.status, get.reason)
    assert head_body == b""
    get_headers = {k: v for k, v in lower_headers(get).items() if k not in PER_RESPONSE}
    head_headers = {k: v for k, v in lower_headers(head).items() if k not in PER_RESPONSE}
    assert head_headers == get_headers
    # No body byte follows the headers of a HEAD answer on the wire either.
    received = raw_exchange(
        server.port,
        f"HEAD /status/{code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    )
    assert received.endswith(b"\r\n\r\n")
    assert received.count(b"\r\n\r\n") == 1


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_real_client_follows_the_redirect_to_a_200(server, code):
    url = f"http://{LOOPBACK}:{server.port}/status/{code}/some/base"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        assert response.url.endswith("/status/200")
        assert response.read() == b"200 OK"


def test_a_redirect_to_a_chosen_path(server):
    url = f"http://{LOOPBACK}:{server.port}/status/307?location=/Kalimaha/"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"Hallo Kalimaha from CORE!"


@pytest.mark.parametrize("code", [407, 426])
def test_407_and_426_are_sent_without_hop_by_hop_headers(server, code):
    # waitress would answer 500 had the app set Proxy-Authenticate or Upgrade.
    response, body = server.request("GET", f"/status/{code}")
    assert (response.status, response.reason) == (code, REGISTERED[code])
    assert not HOP_BY_HOP & set(lower_headers(response))
    assert body == f"{code} {REGISTERED[code]}".encode()


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/status/101", "1xx codes cannot be sent"),
        ("/status/%D9%A2%D9%A0%D9%A0", "three ASCII digits"),
        ("/status/1000", "three ASCII digits"),
        ("/status/200:nan,500", "finite decimal"),
        ("/status/" + ",".join(["200"] * 5000), "at most 50"),
        ("/status/302?location=/a%0D%0ALocation:%20//evil.com", "control characters"),
        ("/status/302?location=/%5C%5Cevil.com", "backslash"),
        ("/status/200?sleep=10001", "from 0 to 10000"),
    ],
)
def test_refusals_on_the_wire(server, path, detail):
    response, body = server.request("GET", path)
    assert (response.status, response.reason) == (400, "Bad Request")
    assert response.getheader("Content-Type") == "application/problem+json"
    assert response.getheader("Cache-Control") == "no-store"
    assert detail in json.loads(body)["detail"]


def test_a_preflight_is_answered_for_the_browser(server):
    response, body = server.request(
        "OPTIONS",
        "/status/201",
        headers={
            "Origin": "http://127.0.0.1:9",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-test",
        },
    )
    assert (response.status, body) == (204, b"")
    assert response.getheader("Content-Type") is None


# Long enough that everything between "both sleepers hold their slots" and
# their answers fits in it, with room for a loaded machine.
SLEEPER_MS = 6000


def test_sleepers_never_starve_the_server():
    # 4 worker threads, and twice as many sleepers: the server waits them out
    # in its event loop, so none is refused and no thread is held.
    with running_server(env={"SIMPLE_FLASK_THREADS": "4"}) as server:
        answers: list[tuple[int, float]] = []
        woke = threading.Event()

        def sleeper() -> None:
            started = time.monotonic()
            response, _ = server.request("GET", f"/status/200?sleep={SLEEPER_MS}", timeout=60)
            answers.append((response.status, time.monotonic() - started))
            woke.set()

        threads = [threading.Thread(target=sleeper, daemon=True) for _ in range(8)]
        try:
            for thread in threads:
                thread.start()
            # More sleepers than threads, and more again: none is refused.
            response, _ = server.request("GET", "/status/200?sleep=1")
            assert response.status == 200
            greeting, text = server.request("GET", "/")
            assert (greeting.status, text) == (200, b"Hallo from CORE!")
            status, text = server.request("GET", "/status/200")
            assert (status.status, text) == (200, b"200 OK")
            # All of that came while the sleepers slept.
            assert not woke.is_set(), "a sleeper woke first: the checks waited for it"
        finally:
            for thread in threads:
                thread.join(60)
        # Every sleeper slept its whole time.
        assert [status for status, _ in answers] == [200] * 8
        assert all(took >= SLEEPER_MS / 1000 for _, took in answers)
