"""Answers that leave late, waited out by the server's event loop instead of a worker thread.

The app marks an answer with a Delivery (simple_flask.wsgi.environ): wait
before its head, stall before its body, pace the body. The worker thread
builds the whole answer at once, as for any other, into a Capture in place
of the connection, and returns; the connection (channel.py) hands the
captured bytes to Timers, which the event loop runs when each piece is due,
and serves the connection's next request only once the last piece is out.
A thousand sleeping requests so cost a thousand entries in a heap, not a
thousand threads.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator

from ...wsgi.environ import Delivery

Action = Callable[[], None]


class Timers:
    """Actions the event loop runs at given times (time.monotonic()), added from any thread."""

    def __init__(self, wake: Action):
        """`wake` makes the event loop look again at once (its poll is waiting)."""
        self._wake = wake
        # (when, order, action), the earliest first; read, never changed, outside.
        self.heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def add(self, when: float, action: Action) -> None:
        """Run `action` in the event loop at `when`, or at once if that has passed."""
        with self._lock:
            earliest = not self.heap or when < self.heap[0][0]
            heapq.heappush(self.heap, (when, next(self._order), action))
        if earliest:
            # The loop may be waiting past `when`: it must look again.
            self._wake()

    def wait(self, longest: float) -> float:
        """Return how long the event loop may wait for sockets: at most `longest` seconds."""
        with self._lock:
            if not self.heap:
                return longest
            return max(0.0, min(longest, self.heap[0][0] - time.monotonic()))

    def run_due(self) -> None:
        """Run every action whose time has come (in the event loop)."""
        now = time.monotonic()
        while True:
            with self._lock:
                if not self.heap or self.heap[0][0] > now:
                    return
                _, _, action = heapq.heappop(self.heap)
            action()

    def __len__(self) -> int:
        return len(self.heap)


class Capture:
    """Stands in for a connection while a worker thread writes an answer that leaves late.

    What the task writes is kept in `pieces`, in order, the head first; every
    other attribute is the connection's own.
    """

    def __init__(self, channel: object):
        self.channel = channel
        self.pieces: list[bytes] = []

    def write_soon(self, data: bytes) -> int:
        if data:
            self.pieces.append(bytes(data))
        return len(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.channel, name)


def schedule(
    pieces: list[bytes], delivery: Delivery, arrived: float
) -> Iterator[tuple[float, bytes]]:
    """Yield (when, bytes) to send the answer written as `pieces` (the head first).

    `arrived` is when the request arrived (time.monotonic()): the wait counts
    from there.
    """
    head, body = (pieces[0], b"".join(pieces[1:])) if pieces else (b"", b"")
    when = arrived + delivery.wait
    if not delivery.stall and not delivery.rate:
        yield when, head + body
        return
    yield when, head
    when += delivery.stall
    for due, piece in delivery.paced(body):
        yield when + due, piece
