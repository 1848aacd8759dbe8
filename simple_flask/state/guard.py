"""A bulkhead and a breaker around a remote store, so that a slow store costs only its requests.

A Redis that refuses connections answers in a millisecond; one that is
frozen, overloaded or behind a dead network makes each call wait out its
timeout. Left alone, every worker thread would end up waiting on it, and a
greeting or /healthz, which never touch the store, would wait for a free
thread. StoreGuard keeps that to a few threads:

- the bulkhead: at most `waiting` calls wait on the store at once; another
  one waits QUEUE_SECONDS for its turn, then is refused (StoreUnavailable,
  503 with Retry-After);
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

# How long a call waits for its turn: a store that answers in a millisecond
# frees a place well within it; a frozen one does not, and the call is refused.
QUEUE_SECONDS = 0.05
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
    ):
        if waiting < 1:
            raise ValueError(f"waiting must be at least 1, got {waiting}")
        self.waiting = waiting
        self.pause = pause
        self._clock = clock
        self._slots = threading.BoundedSemaphore(waiting)
        self._closed_at = 0.0

    def open_for(self) -> float:
        """Return how many seconds the breaker stays open; 0 when calls go through."""
        return max(0.0, self._closed_at - self._clock())

    def failed(self) -> None:
        """Open the breaker: a call just failed on the store's connection."""
        self._closed_at = self._clock() + self.pause

    @contextlib.contextmanager
    def call(self, queue: bool = True) -> Iterator[None]:
        """Run the body as one call to the store, or raise StoreUnavailable at once.

        With `queue` False the call takes no place in the bulkhead (a health
        check, which must tell whether the store answers however busy it is);
        the breaker still applies.
        """
        remaining = self.open_for()
        if remaining:
            raise StoreUnavailable(
                "the sequence store is unavailable: it failed a moment ago, and is tried "
                f"again in {remaining:.1f} s",
                retry_after=math.ceil(remaining),
            )
        if queue and not self._slots.acquire(timeout=QUEUE_SECONDS):
            raise StoreUnavailable(
                f"the sequence store is unavailable: it is slow, and {self.waiting} requests "
                "already wait on it",
                retry_after=1,
            )
        try:
            yield
        finally:
            if queue:
                self._slots.release()
