"""Options per entry through real servers (python start.py): one behaviour for each attempt.

Each option is put on the first entry of a two-entry sequence: the first
answer must show it and the second must not, as the bytes on the wire and
the attempt log say. Then a query default overridden by an entry, weights
with options, ranges repeatable with a seed, refusals that use no attempt,
and the same scenario walked by two replicas sharing a real Redis.
"""

import json
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import pytest

from tests.redis_support import running_redis
from tests.support import LOOPBACK, running_server

pytestmark = pytest.mark.slow


@dataclass
class Wire:
    """One exchange as the client saw it: head, body, and when each arrived after sending."""

    head: dict[str, str]
    status: int
    body: bytes
    head_after: float
    body_after: float
    # Whether the connection ended before the Content-Length was all there.
    short: bool

    @classmethod
    def exchange(cls, port: int, path: str, method: str = "GET") -> "Wire":
        request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        with socket.create_connection((LOOPBACK, port), timeout=30) as sock:
            sent = time.monotonic()
            sock.sendall(request)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                assert chunk, f"closed before the head ended: {received!r}"
                received += chunk
            head_after = time.monotonic() - sent
            while chunk := sock.recv(65536):
                received += chunk
            body_after = time.monotonic() - sent
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        length = int(fields.get("Content-Length", len(body)))
        status = int(lines[0].split()[1])
        return cls(fields, status, body, head_after, body_after, len(body) < length)


@pytest.fixture(scope="module")
def server():
    with running_server(env={"SIMPLE_FLASK_ACCESS_LOG": "0"}) as running:
        yield running


def attempts_of(server, key: str) -> list[tuple[str, str, str]]:
    """The attempt log of sequence `key`: (method, served, sent) of each attempt."""
    response, body = server.request("GET", f"/status/sequences/{key}", timeout=30)
    assert response.status == 200, body
    return [(a["method"], a["served"], a["sent"]) for a in json.loads(body)["attempts"]]


def shows_nothing_special(wire: Wire) -> bool:
    """Tell whether `wire` is a plain, whole, prompt 200 OK answer."""
    return (
        wire.status == 200
        and wire.body == b"200 OK"
        and not wire.short
        and "Retry-After" not in wire.head
    )


# Each option on the first entry: its text, and what the first answer must show.
OPTION_CASES = {
    "sleep": ("200;sleep=400", lambda wire: wire.head_after >= 0.4 and wire.body == b"200 OK"),
    "stall": (
        "200;stall=400",
        lambda wire: wire.body_after >= 0.4 and wire.body == b"200 OK",
    ),
    "truncate": ("200;truncate=3", lambda wire: wire.body == b"200" and wire.short),
    "retry_after": ("503;retry_after=2", lambda wire: wire.head["Retry-After"] == "2"),
    "size": (
        "200;size=1000",
        lambda wire: len(wire.body) == 1000 and wire.head["Content-Length"] == "1000",
    ),
    # 2,000 bytes at 4,000 a second: the last byte cannot come before 0.5 s.
    "rate": (
        "200;size=2000;rate=4000",
        lambda wire: len(wire.body) == 2000 and wire.body_after >= 0.5,
    ),
}


@pytest.mark.parametrize("option", list(OPTION_CASES))
def test_an_option_on_an_entry_shapes_that_attempt_only(server, option):
    entry, shows = OPTION_CASES[option]
    key = f"option-{option}"
    path = f"/status/{entry},200?sequence={key}"
    first = Wire.exchange(server.port, path)
    assert shows(first), first
    assert first.head["X-Sequence-Attempt"] == "1"
    second = Wire.exchange(server.port, path, "POST")
    assert shows_nothing_special(second), second
    # The log names the method and what was sent, the option with it.
    assert attempts_of(server, key) == [("GET", entry, entry), ("POST", "200", "200")]


def test_a_retry_after_date_on_an_entry(server):
    sent = time.time()
    first = Wire.exchange(server.port, "/status/429;retry_after=date:1,200?sequence=date")
    assert first.status == 429
    assert parsedate_to_datetime(first.head["Retry-After"]).timestamp() >= sent + 1
    path = "/status/429;retry_after=date:1,200?sequence=date"
    assert shows_nothing_special(Wire.exchange(server.port, path))


def test_a_sized_body_is_the_same_printable_lines_every_time(server):
    one = Wire.exchange(server.port, "/status/200?size=200").body
    two = Wire.exchange(server.port, "/status/201?size=200").body
    assert one == two and len(one) == 200
    lines = one.split(b"\n")
    # Lines of 64 characters and a newline, the last one cut where the size ends.
    assert [len(line) for line in lines] == [64, 64, 64, 5]
    assert all(32 < byte < 127 for byte in one.replace(b"\n", b""))


def test_an_entry_option_wins_over_the_query_default(server):
    path = "/status/503;retry_after=5,503,200?sequence=defaults&retry_after=1"
    answers = [Wire.exchange(server.port, path) for _ in range(3)]
    assert [(w.status, w.head.get("Retry-After")) for w in answers] == [
        (503, "5"),
        (503, "1"),
        (200, "1"),
    ]
    # The log records what was sent: the default applied where the entry had none.
    assert [sent for _, _, sent in attempts_of(server, "defaults")] == [
        "503;retry_after=5",
        "503;retry_after=1",
        "200;retry_after=1",
    ]


def test_weights_with_options_draw_both_entries(server):
    # Half the answers are sized; forty draws all alike is 1 in 2^39.
    path = "/status/200:1,200:1;size=10"
    assert {len(Wire.exchange(server.port, path).body) for _ in range(40)} == {6, 10}
    # With a seed the draw, and so the options, repeat.
    seeded = {len(Wire.exchange(server.port, path + "?seed=3").body) for _ in range(5)}
    assert len(seeded) == 1


def test_a_range_picks_within_it_and_repeats_with_a_seed(server):
    picks = []
    for key in ("range-a", "range-b"):
        path = f"/status/200;sleep=10..90,200;stall=10..90?sequence={key}&seed=11"
        for _ in range(2):
            assert Wire.exchange(server.port, path).status == 200
        picks.append([sent for _, _, sent in attempts_of(server, key)])
    assert picks[0] == picks[1]
    (sleep,), (stall,) = (sent.split("=")[1:] for sent in picks[0])
    assert 10 <= int(sleep) <= 90 and 10 <= int(stall) <= 90


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/status/204,200?sequence=refused&truncate=1", ["entry 1 ('204')", "truncate"]),
        ("/status/200;bogus=1,200?sequence=refused", ["entry 1 ('200;bogus=1')", "bogus"]),
        ("/status/200;sleep=99999,200?sequence=refused", ["sleep", "10000"]),
        ("/status/reset;size=10,200?sequence=refused", ["reset", "size"]),
    ],
)
def test_a_refusal_names_the_entry_and_the_rule_and_uses_no_attempt(server, path, words):
    wire = Wire.exchange(server.port, path)
    assert wire.status == 400 and wire.head["Content-Type"] == "application/problem+json"
    detail = json.loads(wire.body)["detail"]
    assert all(word in detail for word in words), detail
    # Never counted: the sequence was never used.
    assert server.request("GET", "/status/sequences/refused")[0].status == 404


def test_two_replicas_sharing_redis_walk_one_scenario():
    settings = {"SIMPLE_FLASK_ACCESS_LOG": "0"}
    with running_redis() as redis:
        settings["SIMPLE_FLASK_STATE_URL"] = redis.url
        with running_server(env=settings) as one, running_server(env=settings) as two:
            path = "/status/503;retry_after=2,429;retry_after=7,200;size=10?sequence=shared"
            answers = [Wire.exchange((one, two)[n % 2].port, path) for n in range(3)]
            assert [(w.status, w.head.get("Retry-After")) for w in answers] == [
                (503, "2"),
                (429, "7"),
                (200, None),
            ]
            assert len(answers[2].body) == 10
            assert attempts_of(two, "shared") == [
                ("GET", "503;retry_after=2", "503;retry_after=2"),
                ("GET", "429;retry_after=7", "429;retry_after=7"),
                ("GET", "200;size=10", "200;size=10"),
            ]
            # The options are part of the binding: the same codes without them conflict.
            assert Wire.exchange(one.port, "/status/503,429,200?sequence=shared").status == 409
            # Listed by either replica, and forgotten all at once.
            _, body = one.request("GET", "/status/sequences/", timeout=30)
            assert json.loads(body)["keys"] == ["shared"]
            assert two.request("DELETE", "/status/sequences/", timeout=30)[0].status == 204
            assert json.loads(one.request("GET", "/status/sequences/")[1])["keys"] == []
