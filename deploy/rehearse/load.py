"""The load through nginx: client threads sending keep-alive GETs and POSTs, and a sequence walker.

Each request is recorded with the phase of the rehearsal it was sent in, and
each walk of a failure sequence with the answers it got.
"""

import contextlib
import functools
import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from simple_flask.testing.processes import LOOPBACK
from simple_flask.testing.threads import Clients

from .replicas import REQUEST_ID_PREFIX

# The clients connect from other loopback addresses than nginx's 127.0.0.1, so
# that the address the replicas log (taken from X-Forwarded-For) is told apart
# from nginx's: each client thread from one of its own, the walker from the
# next. nginx's limits are per client address (100 requests a second each):
# the load comes from several clients, as real load does, and none of them
# alone sends more than one request at a time.
FIRST_CLIENT = 2
# Addresses 127.0.0.2 to 127.0.0.254: as many client threads as that leaves.
MAX_THREADS = 252
# Each request of the load asks the replica to take this long, as real work
# would: a replica killed with SIGKILL then has requests in flight.
WORK_MS = 10
# A walk: one request past the list, whose last entry then repeats.
SEQUENCE_ENTRIES = (503, 503, 502, 200)
SEQUENCE_WALK = len(SEQUENCE_ENTRIES) + 1
# Phases of the load, in the order they come.
STEADY, ROLLING, KILL = "steady", "rolling restart", "kill -9"
PHASES = (STEADY, ROLLING, KILL)
# A phase begins this long before a replica is signalled: a margin for the
# requests sent just before, whose counting in the phase depends on timing.
LEAD = 0.3


def client_addresses(threads: int) -> list[str]:
    """The source address of each of `threads` client threads, then the walker's."""
    return [f"127.0.0.{FIRST_CLIENT + n}" for n in range(threads + 1)]


@dataclass
class Outcome:
    """One request of the load: when it was sent, in which phase, and what came of it."""

    at: float
    phase: str
    method: str
    ok: bool
    latency: float
    # The status, or the exception's name when no answer came.
    what: str


@dataclass
class Walk:
    """One failure sequence walked through nginx: what each request got."""

    key: str
    phases: set[str]
    answers: list[tuple[int | None, str | None]]
    request_ids: list[str]
    replicas: set[int] = field(default_factory=set)

    @property
    def in_order(self) -> bool:
        entries = [*SEQUENCE_ENTRIES, *[SEQUENCE_ENTRIES[-1]] * SEQUENCE_WALK][:SEQUENCE_WALK]
        return self.answers == [(code, str(n)) for n, code in enumerate(entries, 1)]


class Load(Clients):
    """Client threads sending keep-alive requests through nginx until stopped, and a walker."""

    def __init__(self, port: int, threads: int):
        self.port = port
        self.phase = STEADY
        self.began = time.monotonic()
        self.outcomes: list[Outcome] = []
        self.walks: list[Walk] = []
        self.lock = threading.Lock()
        self.run = uuid.uuid4().hex[:8]
        self.addresses = client_addresses(threads)
        super().__init__(
            [*(functools.partial(self.client, n) for n in range(threads)), self.walker]
        )

    def connect(self, number: int) -> http.client.HTTPConnection:
        """A connection to nginx from the address of client `number` (the walker: `threads`)."""
        return http.client.HTTPConnection(
            LOOPBACK, self.port, timeout=35, source_address=(self.addresses[number], 0)
        )

    def send(
        self,
        number: int,
        connection: http.client.HTTPConnection | None,
        method: str,
        path: str,
        rid: str,
    ) -> tuple[http.client.HTTPConnection | None, int | None, dict[str, str], str]:
        """One request of client `number` on `connection` (a new one if None): the connection to
        go on with, the status (None without an answer), the headers and what came of it."""
        connection = connection or self.connect(number)
        try:
            body = b"rehearsal" if method == "POST" else None
            connection.request(method, path, body=body, headers={"X-Request-ID": rid})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return None, None, {}, type(error).__name__
        headers = dict(response.getheaders())
        if response.will_close:
            connection.close()
            connection = None
        return connection, response.status, headers, str(response.status)

    def client(self, number: int) -> None:
        # GETs and POSTs in turn: both count, and nginx retries only the GETs.
        connection = None
        sent = 0
        while not self.stopping.is_set():
            method, expected = ("GET", 200) if sent % 2 == 0 else ("POST", 201)
            rid = f"{REQUEST_ID_PREFIX}{self.run}-{number}-{sent}"
            phase, began = self.phase, time.monotonic()
            connection, status, _, what = self.send(
                number, connection, method, f"/status/{expected}?sleep={WORK_MS}", rid
            )
            latency = time.monotonic() - began
            # A request in flight when a phase begins or ends counts in that phase.
            phase = phase if phase != STEADY else self.phase
            outcome = Outcome(began - self.began, phase, method, status == expected, latency, what)
            with self.lock:
                self.outcomes.append(outcome)
            sent += 1
        if connection is not None:
            connection.close()

    def walker(self) -> None:
        # One walk after another, each on a key of its own; nginx spreads the
        # requests of a walk over the replicas.
        codes = ",".join(map(str, SEQUENCE_ENTRIES))
        walker = len(self.addresses) - 1
        walked = 0
        while not self.stopping.is_set():
            key = f"{REQUEST_ID_PREFIX}{self.run}-{walked}"
            walk = Walk(key, set(), [], [])
            connection = None
            for step in range(SEQUENCE_WALK):
                rid = f"{key}-{step}"
                walk.phases.add(self.phase)
                connection, status, headers, _ = self.send(
                    walker, connection, "GET", f"/status/{codes}?sequence={key}", rid
                )
                # A request in flight when a phase begins counts in it too.
                walk.phases.add(self.phase)
                walk.answers.append((status, headers.get("X-Sequence-Attempt")))
                walk.request_ids.append(rid)
            if connection is not None:
                connection.close()
            with self.lock:
                self.walks.append(walk)
            walked += 1
            self.stopping.wait(0.05)

    @contextlib.contextmanager
    def in_phase(self, phase: str) -> Iterator[None]:
        """Count the requests sent in the block, or in flight when it begins or ends, in `phase`."""
        self.phase = phase
        time.sleep(LEAD)
        try:
            yield
        finally:
            self.phase = STEADY
