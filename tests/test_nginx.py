"""deploy/nginx/simple_flask.conf: what it promises, and Debian's nginx running it.

The configuration is read for the points it must keep (keep-alive upstreams,
retries of errors and timeouts only, no replica marked down, the service's
body limit, limits per client address, timeouts, buffers, the X-Accel-*
headers ignored); then the real nginx runs it on loopback, pointed at two
real replicas (`python start.py`), each trusting nginx's address for
X-Forwarded-For. tests/test_neighbours_nginx.py runs it for what one client
does to the others.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.rehearse.nginx import render_main, render_site
from simple_flask.core.settings import Settings
from tests.support import (
    LOOPBACK,
    ROOT,
    Server,
    free_port,
    request,
    running_server,
    skip_or_fail,
    stop,
)

CONF = ROOT / "deploy" / "nginx" / "simple_flask.conf"
# Another loopback address than nginx's, so that the client's address and the
# proxy's differ in what the service logs.
CLIENT = "127.0.0.2"
GREETING = b"Hallo Kalimaha from CORE!"


def nginx() -> str:
    """Return the nginx binary, or skip (fail under CI=true) without one."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        skip_or_fail("nginx is not installed: apt-get install nginx")
    return found


def directives(text: str) -> dict[str, list[str]]:
    """Every simple directive of an nginx configuration: name -> its arguments, in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.endswith(";"):
            name, _, arguments = line[:-1].partition(" ")
            found.setdefault(name, []).append(arguments.strip())
    return found


def size(text: str) -> int:
    """Bytes in an nginx size such as 1m, 512k or 1048576."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", text).groups()
    return int(number) << {"": 0, "k": 10, "m": 20, "g": 30}[unit.lower()]


def seconds(text: str) -> float:
    """Seconds in an nginx time such as 20s, 1m or 500ms."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", text).groups()
    return int(number) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[unit]


def render(replicas: list[str], listen: str) -> str:
    """The shipped configuration with one upstream line per replica and the given listen address."""
    return render_site(replicas, listen)


def main_conf(prefix: Path, site: Path) -> Path:
    """Write an nginx.conf that keeps every file in `prefix` and includes `site`."""
    path = prefix / "nginx.conf"
    path.write_text(render_main(prefix, site))
    return path


@dataclass
class Front:
    """nginx on `port`, in front of `replicas`."""

    port: int
    process: subprocess.Popen
    replicas: list[Server]
    prefix: Path

    def get(self, path: str, **kwargs):
        """Send one request to nginx from the client's address; see request()."""
        return request(self.port, kwargs.pop("method", "GET"), path, source=CLIENT, **kwargs)


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    """Run `nginx -t` on `conf`."""
    return subprocess.run(
        [nginx(), "-t", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def front(tmp_path):
    """Two replicas trusting 127.0.0.1, and nginx on a free loopback port in front of them."""
    binary = nginx()
    trust = {"SIMPLE_FLASK_TRUSTED_PROXY": LOOPBACK}
    with running_server(env=trust) as first, running_server(env=trust) as second:
        port = free_port()
        site = tmp_path / "simple_flask.conf"
        site.write_text(
            render([f"{LOOPBACK}:{first.port}", f"{LOOPBACK}:{second.port}"], f"{LOOPBACK}:{port}")
        )
        conf = main_conf(tmp_path, site)
        checked = nginx_test(conf, tmp_path)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own process group, so that its workers can be stopped with it.
            start_new_session=True,
        )
        try:
            _wait_for_port(process, port)
            yield Front(port, process, [first, second], tmp_path)
        finally:
            stop(process)
            # Workers left by a master that had to be killed.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def _wait_for_port(process: subprocess.Popen, port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not listen")


def logged(server: Server, path: str) -> list[dict]:
    """The access-log lines (JSON on stdout) of `server` for `path`."""
    lines = [json.loads(line) for line in server.output()[0].splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("path") == path]


def _wait_logged(server: Server, path: str, count: int = 1, timeout: float = 30) -> list[dict]:
    # A line is written after its answer is sent: wait for `count` of them.
    deadline = time.monotonic() + timeout
    while len(lines := logged(server, path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def settled_lines(front: "Front", path: str) -> list[dict]:
    """The replicas' lines for `path`, once every request sent before has been logged.

    A request sent to each replica directly, after, is logged after them: once
    its line is there, no earlier one is still to come.
    """
    for replica in front.replicas:
        marker = f"/status/200/{uuid.uuid4().hex}"
        replica.request("GET", marker)
        assert _wait_logged(replica, marker), replica.output()
    return [line for replica in front.replicas for line in logged(replica, path)]


# --- what the configuration promises -------------------------------------------------------------


def test_upstream_connections_are_kept_alive():
    found = directives(CONF.read_text())
    assert int(found["keepalive"][0]) > 0
    assert found["proxy_http_version"] == ["1.1"]
    assert found["proxy_set_header"].count('Connection ""') == 1
    # nginx must drop an idle upstream connection before the service does.
    assert seconds(found["keepalive_timeout"][0]) < Settings().idle_timeout


def test_only_errors_and_timeouts_are_retried_and_never_after_a_post_was_sent():
    found = directives(CONF.read_text())
    (retried,) = found["proxy_next_upstream"]
    # Exactly these: no http_502/http_503 (answers are the service's to give),
    # and no non_idempotent, which would send a POST to a second replica.
    assert retried.split() == ["error", "timeout"]
    # A deliberately slow answer (?sleep=) is not a timeout to retry.
    assert seconds(found["proxy_read_timeout"][0]) > Settings().max_sleep_ms / 1000


def test_buffering_forwarded_headers_and_the_body_limit():
    found = directives(CONF.read_text())
    assert found["proxy_request_buffering"] == ["on"]
    assert found["proxy_buffering"] == ["on"]
    headers = found["proxy_set_header"]
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in headers
    assert "X-Forwarded-Proto $scheme" in headers
    assert size(found["client_max_body_size"][0]) == Settings().max_request_body


def test_no_replica_is_ever_marked_down_for_a_failed_attempt():
    found = directives(CONF.read_text())
    # Every upstream line, however many a deployment writes, carries it: with
    # nginx's default (max_fails=1), one client's /status/reset took each
    # replica it was tried on out of rotation for every client for 10 s.
    assert found["server"] and all(
        "max_fails=0" in arguments.split()[1:] for arguments in found["server"]
    )
    # A replica that refuses connections is still passed over, as an error.
    assert "error" in found["proxy_next_upstream"][0].split()


def test_an_answer_head_of_4_kib_has_room_to_spare():
    found = directives(CONF.read_text())
    # The service keeps an answer's head under 4 KiB (?header= has a bound
    # for that); nginx's default buffer is exactly 4 KiB, and a larger head
    # is a 502 for the client.
    assert size(found["proxy_buffer_size"][0]) >= 2 * 4096
    number, each = found["proxy_buffers"][0].split()
    # nginx refuses a configuration whose busy buffers (2 x proxy_buffer_size
    # by default) are not less than all the buffers but one.
    assert (int(number) - 1) * size(each) > 2 * size(found["proxy_buffer_size"][0])


ACCEL_HEADERS = [
    "X-Accel-Redirect",
    "X-Accel-Expires",
    "X-Accel-Limit-Rate",
    "X-Accel-Buffering",
    "X-Accel-Charset",
]


def test_no_header_of_the_upstream_steers_nginx_or_reaches_the_client():
    found = directives(CONF.read_text())
    (ignored,) = found["proxy_ignore_headers"]
    # Every X-Accel-* header nginx acts on (nginx's proxy_ignore_headers documentation).
    assert set(ACCEL_HEADERS) <= set(ignored.split())
    assert set(ACCEL_HEADERS) <= set(found["proxy_hide_header"])


def test_limits_per_client_address_refuse_with_429():
    found = directives(CONF.read_text())
    zones = {}
    for declared in found["limit_req_zone"] + found["limit_conn_zone"]:
        key, zone, *rest = declared.split()
        name, _, memory = zone.removeprefix("zone=").partition(":")
        # Keyed on the client's own address, in binary form (4 bytes for IPv4).
        assert key == "$binary_remote_addr"
        assert size(memory) >= 1 << 20
        zones[name] = rest
    (limit_req,) = found["limit_req"]
    zone, burst, nodelay = limit_req.split()
    assert zone.removeprefix("zone=") in zones
    assert re.fullmatch(r"rate=\d+r/s", zones[zone.removeprefix("zone=")][0])
    assert int(burst.removeprefix("burst=")) > 0
    # Served at once or refused at once: nginx never delays an answer, whose
    # timing (?sleep=) a client may be measuring.
    assert nodelay == "nodelay"
    (limit_conn,) = found["limit_conn"]
    zone, connections = limit_conn.split()
    assert zone in zones
    assert int(connections) >= 2
    assert found["limit_req_status"] == ["429"]
    assert found["limit_conn_status"] == ["429"]


def test_a_client_that_trickles_or_stops_reading_is_cut_off_sooner_than_by_default():
    found = directives(CONF.read_text())
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        (timeout,) = found[name]
        # nginx's default is 60 s; the service's own idle timeout is 30 s.
        assert 1 <= seconds(timeout) <= Settings().idle_timeout, name


@pytest.mark.parametrize(("text", "expected"), [("1m", 1 << 20), ("512k", 512 << 10), ("7", 7)])
def test_sizes_are_read_as_nginx_reads_them(text, expected):
    assert size(text) == expected


def test_nginx_refuses_a_broken_configuration(tmp_path):
    nginx()
    site = tmp_path / "site.conf"
    site.write_text(
        render([f"{LOOPBACK}:1"], f"{LOOPBACK}:{free_port()}").replace(
            "keepalive 16;", "keepalive;"
        )
    )
    result = nginx_test(main_conf(tmp_path, site), tmp_path)
    assert result.returncode != 0
    assert "keepalive" in result.stderr


# --- nginx running it ----------------------------------------------------------------------------


@pytest.mark.slow
def test_greetings_pass_through_to_both_replicas(front):
    for _ in range(6):
        response, body = front.get("/Kalimaha/")
        assert (response.status, body) == (200, GREETING)
    # Round robin: each replica answered some of them.
    for replica in front.replicas:
        assert _wait_logged(replica, "/Kalimaha/"), replica.output()


@pytest.mark.slow
def test_upstream_connections_are_reused(front):
    ports = {replica.port for replica in front.replicas}
    before = _connections_to(ports)
    for _ in range(20):
        response, _ = front.get("/healthz")
        assert response.status == 200
    opened = _connections_to(ports) - before
    # One worker, two replicas: at most one connection to each, whatever the
    # number of requests (without keep-alive, one per request).
    assert 1 <= len(opened) <= 2, opened


def _connections_to(ports: set[int]) -> set[int]:
    """The local ports of TCP connections to `ports`, open or lately closed, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        local_port, remote_port = (int(address.split(":")[1], 16) for address in (local, remote))
        if state == "0A":  # LISTEN
            continue
        # Each end of a loopback connection has its own line; the client's
        # port names the connection in either.
        if remote_port in ports:
            found.add(local_port)
        elif local_port in ports:
            found.add(remote_port)
    return found


@pytest.mark.slow
def test_the_service_logs_the_client_address_nginx_forwards(front):
    path = f"/status/200/{uuid.uuid4().hex}"
    # A forged header from the client: nginx appends the real address, and
    # the service takes only that last entry, from its trusted proxy.
    response, _ = front.get(path, headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status == 200
    (line,) = settled_lines(front, path)
    assert line["client"] == CLIENT


@pytest.mark.slow
def test_a_body_over_the_limit_gets_413_from_nginx(front):
    limit = Settings().max_request_body
    path = f"/status/200/{uuid.uuid4().hex}"
    # Exactly the limit passes through to a replica.
    response, _ = front.get(path, method="POST", body=b"x" * limit)
    assert response.status == 200
    # One byte more is refused by nginx as soon as it reads the headers.
    with socket.create_connection(
        (LOOPBACK, front.port), timeout=10, source_address=(CLIENT, 0)
    ) as client:
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {limit + 1}\r\n\r\n"
        client.sendall(head.encode())
        answer = client.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413 "), answer
    assert "Server: nginx" in answer
    # Only the request within the limit reached a replica.
    assert len(settled_lines(front, path)) == 1


@pytest.mark.slow
def test_a_get_succeeds_when_a_replica_is_killed(front):
    dead, alive = front.replicas
    dead.process.send_signal(signal.SIGKILL)
    dead.process.wait(10)
    path = f"/status/200/{uuid.uuid4().hex}"
    for _ in range(6):
        response, _ = front.get(path)
        assert response.status == 200
    assert len(_wait_logged(alive, path, count=6)) == 6
    error_log = (front.prefix / "error.log").read_text()
    assert "Connection refused" in error_log or "failed" in error_log
