"""The shipped nginx keeps one client's faults and floods from the other clients.

Debian's nginx runs deploy/nginx/simple_flask.conf (only its upstream and
listen lines changed, by deploy.rehearse.nginx) in front of two real replicas
(`python start.py`), or in front of a small upstream of the test's own where
the service would refuse what is tested (X-Accel-* headers, a head over
4 KiB). Each client connects from a loopback address of its own
(127.0.0.2, 127.0.0.3, ...), as nginx's limits are per client address; each
test uses addresses no other test uses, so that what one leaves in nginx's
per-address state cannot reach another.

Every wait is for an event (an answer, a count of answers), bounded; no
assertion is on how long anything took. Without nginx these tests skip, and
under CI=true they fail.
"""

import http.client
import http.server
import re
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.rehearse.nginx import Nginx
from deploy.rehearse.programs import Unavailable, find_program
from simple_flask.testing.threads import Clients
from tests.support import LOOPBACK, ROOT, running_server, skip_or_fail

pytestmark = pytest.mark.slow

CONF = ROOT / "deploy" / "nginx" / "simple_flask.conf"
GREETING = b"Hallo Kalimaha from CORE!"
# Bound on every wait for an answer or a count of answers.
WAIT = 60
# Faults (or large answers) the noisy client asks for, two a second or so.
NOISE = 8
# Greetings the neighbour gets between two requests of the noisy client:
# one every 50 ms, so about half a second.
BETWEEN = 10


def require_nginx() -> None:
    """Skip the test without nginx (fail it under CI=true)."""
    try:
        find_program("nginx")
    except Unavailable as missing:
        skip_or_fail(str(missing))


def shipped(name: str) -> str:
    """The arguments of the one `name` directive of the shipped site."""
    (found,) = re.findall(rf"^\s*{name} ([^;#]+);", CONF.read_text(), re.MULTILINE)
    return found


@pytest.fixture(scope="module")
def front(tmp_path_factory) -> Iterator[Nginx]:
    """nginx running the shipped site in front of two replicas that trust it (127.0.0.1)."""
    require_nginx()
    trust = {"SIMPLE_FLASK_TRUSTED_PROXY": LOOPBACK}
    with running_server(env=trust) as first, running_server(env=trust) as second:
        proxy = Nginx(tmp_path_factory.mktemp("front"), [first.port, second.port])
        try:
            proxy.start()
            yield proxy
        finally:
            proxy.stop()


def connect(port: int, source: str, timeout: float = WAIT) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(LOOPBACK, port, timeout=timeout, source_address=(source, 0))


def ask(port: int, source: str, path: str) -> int | str:
    """GET `path` over a new connection from `source`: the status, or the error's name."""
    connection = connect(port, source)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def test_headers_that_act_beyond_the_answer_are_refused_through_nginx(front):
    # The same list as tests/test_faults_server.py checks directly.
    from tests.test_faults_server import BEYOND_THE_ANSWER

    for header in BEYOND_THE_ANSWER:
        name = header.partition(":")[0]
        connection = connect(front.port, "127.0.0.7")
        try:
            connection.request("GET", "/status/200?" + urllib.parse.urlencode({"header": header}))
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 400, (header, response.status)
        assert f"header {name} may not be set".encode() in body, body
        assert response.getheader(name) is None


class Neighbour(Clients):
    """Another client, on `source`: a greeting through nginx every 50 ms until the block ends.

    Each answer is recorded as its status (200 only with the greeting's body)
    or the name of the error met instead.
    """

    def __init__(self, port: int, source: str):
        self.port = port
        self.source = source
        self.answers: list[int | str] = []
        self.changed = threading.Condition()
        super().__init__([self.greet])

    def greet(self) -> None:
        connection = None
        while not self.stopping.is_set():
            connection = connection or connect(self.port, self.source)
            try:
                connection.request("GET", "/Kalimaha/")
                response = connection.getresponse()
                body = response.read()
                answer = response.status if body == GREETING else f"{response.status} {body!r}"
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = None
                answer = type(error).__name__
            with self.changed:
                self.answers.append(answer)
                self.changed.notify_all()
            self.stopping.wait(0.05)
        if connection is not None:
            connection.close()

    def count(self) -> int:
        with self.changed:
            return len(self.answers)

    def wait_for(self, count: int) -> bool:
        """Wait until `count` answers are in; False if they are not within WAIT seconds."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.answers) >= count, WAIT)

    def wait_past(self, more: int) -> bool:
        """Wait for `more` greetings sent after this call: the one in flight, if any, and
        `more` after it."""
        return self.wait_for(self.count() + more + 1)


def errors_for(front: Nginx, client: str) -> list[str]:
    """The lines nginx's error log has at level error for requests of `client`."""
    log = (front.prefix / "error.log").read_text(errors="replace")
    return [line for line in log.splitlines() if "[error]" in line and f"client: {client}," in line]


def noise_beside_a_neighbour(front: Nginx, paths: list[str], noisy: str, neighbour: str):
    """The noisy client asks for `paths` in turn, about two a second, while the neighbour
    greets; return what each got."""
    got = []
    with Neighbour(front.port, neighbour) as greeting:
        for path in paths:
            got.append(ask(front.port, noisy, path))
            # The neighbour's next greetings are sent after this request's end.
            assert greeting.wait_past(BETWEEN), greeting.answers
        # With nginx's defaults a replica that failed stayed out for 10 s,
        # which greetings sent now would meet.
        assert greeting.wait_past(BETWEEN), greeting.answers
    return got, greeting.answers


def test_resets_and_closes_asked_by_one_client_leave_the_others_200s(front):
    paths = ["/status/reset", "/status/close"] * (NOISE // 2)
    got, neighbour = noise_beside_a_neighbour(front, paths, "127.0.0.2", "127.0.0.3")
    # Through nginx the fault is the caller's 502 (tried on both replicas).
    assert got == [502] * NOISE
    assert set(neighbour) == {200}, neighbour
    assert len(neighbour) >= (NOISE + 1) * BETWEEN
    # nginx met the faults at both replicas, for the noisy client alone.
    met = errors_for(front, "127.0.0.2")
    assert len(set(re.findall(r'upstream: "http://127\.0\.0\.1:(\d+)/', "\n".join(met)))) == 2
    assert errors_for(front, "127.0.0.3") == []


def test_large_answers_asked_by_one_client_leave_the_others_200s(front):
    # 8 headers of 900 bytes: a head of over 7 KiB. The service may refuse
    # it (400: its heads stay under 4 KiB) or send it, which nginx passes on.
    custom = "&".join(f"header=X-{name}:{name * 900}" for name in "ABCDEFGH")
    paths = [f"/status/200?{custom}"] * NOISE
    got, neighbour = noise_beside_a_neighbour(front, paths, "127.0.0.4", "127.0.0.5")
    assert len(set(got)) == 1 and got[0] in (200, 400), got
    assert set(neighbour) == {200}, neighbour
    assert errors_for(front, "127.0.0.5") == []


class Flood(Clients):
    """`connections` connections from `source`, each sending a greeting as soon as the last is
    answered, until the block ends or each has sent `cap`; every status (or error name) is
    recorded, and `refused` set at the first 429."""

    def __init__(self, port: int, source: str, connections: int, cap: int):
        self.port = port
        self.source = source
        self.cap = cap
        self.statuses: list[int | str] = []
        self.lock = threading.Lock()
        self.refused = threading.Event()
        super().__init__([self.send] * connections)

    def send(self) -> None:
        connection = None
        for _ in range(self.cap):
            if self.stopping.is_set():
                break
            connection = connection or connect(self.port, self.source)
            try:
                connection.request("GET", "/Kalimaha/")
                response = connection.getresponse()
                response.read()
                status: int | str = response.status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                connection.close()
                connection = None
            with self.lock:
                self.statuses.append(status)
            if status == 429:
                self.refused.set()
        if connection is not None:
            connection.close()


def test_a_flood_from_one_address_gets_429_while_another_address_gets_200(front):
    burst = int(re.search(r"burst=(\d+)", shipped("limit_req")).group(1))
    with Neighbour(front.port, "127.0.0.7") as neighbour:
        with Flood(front.port, "127.0.0.6", connections=4, cap=20 * burst) as flood:
            assert flood.refused.wait(WAIT), f"no 429 in {len(flood.statuses)} requests"
            # Greetings sent while the flood goes on, and gets refused.
            assert neighbour.wait_past(BETWEEN), neighbour.answers
    assert set(flood.statuses) == {200, 429}, set(flood.statuses)
    # The burst is served at once, whatever the rate: more 200s than that.
    assert flood.statuses.count(200) > burst
    assert set(neighbour.answers) == {200}, neighbour.answers


def answered(sockets: list[socket.socket]) -> list[socket.socket]:
    """Those of `sockets` with something to read now (poll: no bound on descriptor numbers)."""
    poller = select.poll()
    for sock in sockets:
        poller.register(sock, select.POLLIN)
    ready = {descriptor for descriptor, _ in poller.poll(0)}
    return [sock for sock in sockets if sock.fileno() in ready]


def feed(uploads: list[socket.socket]) -> list[socket.socket]:
    """Send one more byte of its body on each upload nginx has not answered; return those."""
    done = answered(uploads)
    waiting = [upload for upload in uploads if upload not in done]
    for upload in waiting:
        upload.sendall(b"x")
    return waiting


def test_requests_held_open_by_one_address_are_bounded_and_others_still_get_200(front):
    limit = int(shipped("limit_conn").split()[1])
    held_from = "127.0.0.8"
    # Uploads that do not end: nginx has read each head and waits for a body
    # of 64 KiB, which comes a byte at a time, a second apart (less than
    # client_body_timeout, which would end them).
    head = b"POST /status/200 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65536\r\n\r\n"
    uploads = [
        socket.create_connection((LOOPBACK, front.port), WAIT, source_address=(held_from, 0))
        for _ in range(3 * limit)
    ]
    try:
        for upload in uploads:
            upload.sendall(head)
        # nginx counts `limit` of them and answers the others at once.
        for _ in range(WAIT):
            if len(feed(uploads)) <= limit:
                break
            time.sleep(1)
        # Another address is not counted with them.
        with Neighbour(front.port, "127.0.0.9") as neighbour:
            assert neighbour.wait_for(BETWEEN), neighbour.answers
            # While the uploads last, a request from their address is refused.
            assert ask(front.port, held_from, "/Kalimaha/") == 429
            waiting = feed(uploads)
        assert set(neighbour.answers) == {200}, neighbour.answers
        # Exactly those over the limit were refused, with 429.
        assert len(waiting) == limit
        refused = answered(uploads)
        assert len(refused) == len(uploads) - limit
        for upload in refused:
            assert upload.recv(4096).startswith(b"HTTP/1.1 429 ")
    finally:
        for upload in uploads:
            upload.close()
    # The limit counts requests in progress, not a ban: once the uploads are
    # gone, their address is served again.
    for _ in range(100):
        if (status := ask(front.port, held_from, "/Kalimaha/")) != 429:
            break
    assert status == 200


# --- an upstream of the test's own ---------------------------------------------------------------

ACCEL = {
    "X-Accel-Redirect": "/redirected",
    "X-Accel-Limit-Rate": "1",
    "X-Accel-Buffering": "no",
    "X-Accel-Expires": "3600",
    "X-Accel-Charset": "koi8-r",
}
BODY = b"the upstream's own answer\n"
# An answer nginx buffers whole while its client reads nothing; if it did not
# buffer, the upstream could not send it all: more than the sockets' buffers
# hold, those of the test kept small.
LARGE = 16 << 20
SMALL_BUFFER = 16384


class Upstream(http.server.ThreadingHTTPServer):
    """An HTTP upstream answering /accel/<header> with that header, which the service refuses
    to send; it records every path asked and when each answer was all sent."""

    daemon_threads = True

    def __init__(self):
        super().__init__((LOOPBACK, 0), AccelHandler)
        self.paths: list[str] = []
        self.sent: dict[str, threading.Event] = {name: threading.Event() for name in ACCEL}


class AccelHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        name = self.path.removeprefix("/accel/")
        body = BODY
        if name == "X-Accel-Buffering":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
            body = b"x" * LARGE
        elif name == "X-Accel-Limit-Rate":
            body = b"x" * 65536
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if name in ACCEL:
            self.send_header(name, ACCEL[name])
        if name == "big-head":
            for letter in "ABCDEFGH":
                self.send_header(f"X-{letter}", letter * 900)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            return
        if name in self.server.sent:
            self.server.sent[name].set()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def steered(tmp_path_factory) -> Iterator[tuple[Nginx, Upstream]]:
    """nginx running the shipped site in front of an Upstream."""
    require_nginx()
    upstream = Upstream()
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    proxy = Nginx(tmp_path_factory.mktemp("steered"), [upstream.server_address[1]])
    try:
        proxy.start()
        yield proxy, upstream
    finally:
        proxy.stop()
        upstream.shutdown()
        upstream.server_close()
        thread.join(WAIT)


def read_within(response: http.client.HTTPResponse, bound: float) -> bytes:
    """The whole body of `response`, or an AssertionError once `bound` seconds have passed."""
    deadline = time.monotonic() + bound
    body = b""
    while chunk := response.read1(65536):
        body += chunk
        assert time.monotonic() < deadline, f"{len(body)} bytes of the body in {bound} s"
    return body


@pytest.mark.parametrize("name", ACCEL)
def test_an_x_accel_header_from_upstream_is_neither_acted_on_nor_passed_on(steered, name):
    proxy, upstream = steered
    asked_before = len(upstream.paths)
    client = socket.socket()
    # A small window: nginx cannot hand much to a client that reads nothing.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    client.settimeout(WAIT)
    client.bind(("127.0.0.10", 0))
    client.connect((LOOPBACK, proxy.port))
    connection = http.client.HTTPConnection(LOOPBACK, proxy.port, timeout=WAIT)
    connection.sock = client
    try:
        connection.request("GET", f"/accel/{name}")
        if name == "X-Accel-Buffering":
            # nginx, buffering as configured, took the whole answer from the
            # upstream while this client read none of it; unbuffered, the
            # upstream could not have sent it all.
            assert upstream.sent[name].wait(WAIT)
        response = connection.getresponse()
        # At X-Accel-Limit-Rate: 1 (a byte a second), this body would take 18 hours.
        body = read_within(response, WAIT)
    finally:
        connection.close()
    assert response.status == 200
    assert response.getheader(name) is None
    assert not [header for header in response.headers if header.lower().startswith("x-accel-")]
    expected = {"X-Accel-Buffering": b"x" * LARGE, "X-Accel-Limit-Rate": b"x" * 65536}
    assert body == expected.get(name, BODY)
    # One request reached the upstream, this one: X-Accel-Redirect made no
    # internal redirect to /redirected, which nginx would have asked it for.
    assert upstream.paths[asked_before:] == [f"/accel/{name}"]
    # X-Accel-Charset: no charset added to the type, and none looked up
    # (acted on, nginx logs that it knows no "koi8-r" to override with).
    # X-Accel-Expires steers nginx's cache, which the site does not have:
    # that it is not passed on is all there is to see of it.
    assert response.getheader("Content-Type") == "text/plain"
    assert "to override" not in Path(proxy.prefix, "error.log").read_text()


def test_an_answer_head_over_4_kib_reaches_the_client(steered):
    proxy, _ = steered
    # Eight headers of 900 bytes: over nginx's default buffer of 4 KiB.
    connection = connect(proxy.port, "127.0.0.11")
    try:
        connection.request("GET", "/accel/big-head")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert (response.status, body) == (200, BODY)
    assert [response.getheader(f"X-{letter}") for letter in "ABCDEFGH"] == [
        letter * 900 for letter in "ABCDEFGH"
    ]
