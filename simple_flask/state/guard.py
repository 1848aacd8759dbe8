"""A bulkhead and a breaker around a remote store, so that a slow store costs only its requests.

A Redis that refuses connections answers in a millisecond; one that is
frozen, overloaded or behind a dead network makes each call wait out its
timeout. Left alone, every worker thread would end up waiting on it, and a
greeting or /healthz, which never touch the store, would wait for a free
thread. StoreGuard keeps that to a few threads:

- the bulkhead: at most `waiting` calls wait on the store at once; another
  one waits for its turn while the queue moves, and is refused
  (StoreUnavailable, 503 with Retry-After) once QUEUE_SECONDS pass with no
  call finishing, or after PATIENCE_SECONDS in all. A store that answers,
  however busy the machine, finishes calls and keeps its callers; a frozen
  one finishes none, and costs a queued call QUEUE_SECONDS;
- the breaker: after a call fails on the connection (a timeout, a refused
  or broken connection), every call is refused at once for `pause`
  seconds; then calls go through again, and the first failure opens it again.
"""

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

from ..core.errors import StoreUnavailable

# How long a queued call waits for any call to finish: a store that answers
# in a millisecond frees places many times within it, even on a loaded
# machine; a frozen one frees none, and the call is refused.
QUEUE_SECONDS = 0.1
# How long a queued call waits in all, while the queue moves: past the
# store's own timeouts, a place is not worth a thread any more.
PATIENCE_SECONDS = 1.0
# How long the breaker stays open after a failure: short enough that a store
# back up is used again within a retry or two, long enough that a frozen one
# costs one timeout a second, not one per request.
PAUSE_SECONDS = 1.0


class StoreGuard:
    """Admits calls to a store: at most `waiting` at once, none for `pause` s after a failure."""

    def __init__(
        self,
        waiting: int,
        pause: float = PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        window: float = QUEUE_SECONDS,
        patience: float = PATIENCE_SECONDS,
    ):
        """`clock` dates the breaker; the queue waits on real time."""
        if waiting < 1:
            raise ValueError(f"waiting must be at least 1, got {waiting}")
        self.waiting = waiting
        self.pause = pause
        self.window = window
        self.patience = patience
        self._clock = clock
        self._turns = threading.Condition()
        self._inside = 0
        # Calls waiting for their turn now.
        self.queued = 0
        # Calls finished so far: a queued call that sees it move stays in line.
        self._finished = 0
        self._closed_at = 0.0

    def open_for(self) -> float:
        """Return how many seconds the breaker stays open; 0 when calls go through."""
        return max(0.0, self._closed_at - self._clock())

    def failed(self) -> None:
        """Open the breaker: a call just failed on the store's connection."""
        self._closed_at = self._clock() + self.pause

    @contextlib.contextmanager
    def call(self, queue: bool = True) -> Iterator[None]:
        """Run the body as one call to the store, or raise StoreUnavailable.

        With `queue` False the call takes no place in the bulkhead (a health
        check, which must tell whether the store answers however busy it is);
        the breaker still applies.
        """
        self._refuse_while_open()
        if not queue:
            yield
            return
        self._enter()
        try:
            yield
        finally:
            with self._turns:
                self._inside -= 1
                self._finished += 1
                self._turns.notify()

    def _refuse_while_open(self) -> None:
        remaining = self.open_for()
        if remaining:
            raise StoreUnavailable(
                "the sequence store is unavailable: it failed a moment ago, and is tried "
                f"again in {remaining:.1f} s",
                retry_after=math.ceil(remaining),
            )

    def _enter(self) -> None:
        """Take a place, waiting while the calls inside finish; or raise StoreUnavailable."""
        with self._turns:
            give_up = time.monotonic() + self.patience
            self.queued += 1
            try:
                while self._inside >= self.waiting:
                    seen = self._finished
                    self._turns.wait(self.window)
                    # The calls inside may have failed meanwhile: no need to try again.
                    self._refuse_while_open()
                    if self._inside < self.waiting:
                        break
                    if self._finished == seen or time.monotonic() >= give_up:
                        raise StoreUnavailable(
                            "the sequence store is unavailable: it is slow, and "
                            f"{self.waiting} requests already wait on it",
                            retry_after=1,
                        )
            finally:
                self.queued -= 1
            self._inside += 1
