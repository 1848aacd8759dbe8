"""The in-process sequence store: thread-safe, forgetting idle sequences, bounded in size.

One OrderedDict holds every sequence, least recently used first. A use moves
its sequence to the end, so the front is both the least recently used and the
longest idle: expiry and the size bound each drop from the front, and every
operation is O(1) (amortized). One lock guards it all; the work under it is a
few dict operations, far shorter than a request.
"""

import itertools
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence

from ..core.errors import SequenceConflict
from ..core.sequences import MAX_HISTORY, Attempt, Record, Taken


class _Sequence:
    """One key's state: its list, its count, when it was last used, its latest attempts.

    The attempts are kept in two arrays rather than as tuples: 16 bytes each
    when what was sent repeats (measured: a sequence of a hundred attempts
    of plain codes takes about 2 KiB, 19 KiB at worst; docs/sequences.md).
    """

    __slots__ = ("bound", "count", "last_used", "times", "what")

    def __init__(self, bound: str, now: float):
        self.bound = bound
        self.count = 0
        self.last_used = now
        # When each kept attempt came (epoch seconds), and "method sent":
        # one string shared by attempts in a row that sent the same.
        self.times = array("d")
        self.what: list[str] = []

    def attempts(self) -> tuple[Attempt, ...]:
        """Return the kept attempts, oldest first."""
        return tuple(
            Attempt(at, *what.split(" ", 1)) for at, what in zip(self.times, self.what, strict=True)
        )


class MemoryStore:
    """Sequences of this process only: each replica counts on its own."""

    def __init__(
        self,
        ttl: float = 600,
        max_sequences: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        if max_sequences < 1:
            raise ValueError(f"max_sequences must be at least 1, got {max_sequences}")
        self.ttl = ttl
        self.max_sequences = max_sequences
        # The monotonic clock decides expiry; the wall clock only dates attempts.
        self._clock = clock
        self._wall = wall
        self._sequences: OrderedDict[str, _Sequence] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sequences)

    def _expire(self, now: float) -> None:
        """Drop idle sequences from the front; called with the lock held."""
        sequences = self._sequences
        while sequences:
            key, oldest = next(iter(sequences.items()))
            if now - oldest.last_used < self.ttl:
                return
            del sequences[key]

    def _live(self, key: str, now: float) -> _Sequence | None:
        self._expire(now)
        return self._sequences.get(key)

    def take(self, key: str, bound: str, sent: Sequence[str], method: str) -> Taken:
        """Bind `key` to `bound` if new and hand out its next attempt number, recording it."""
        now = self._clock()
        with self._lock:
            sequence = self._live(key, now)
            if sequence is None:
                sequence = self._sequences[key] = _Sequence(bound, now)
                while len(self._sequences) > self.max_sequences:
                    self._sequences.popitem(last=False)
            elif sequence.bound != bound:
                raise SequenceConflict(key, sequence.bound, bound)
            else:
                self._sequences.move_to_end(key)
            sequence.last_used = now
            count = sequence.count = sequence.count + 1
            what = f"{method} {sent[min(count, len(sent)) - 1]}"
            kept = sequence.what
            if kept and kept[-1] == what:
                # The same as the attempt before (a code repeated): kept once.
                what = kept[-1]
            sequence.times.append(self._wall())
            kept.append(what)
            if count > MAX_HISTORY:
                # A hundred values moved: cheaper than a deque's blocks.
                del sequence.times[0]
                del sequence.what[0]
            return Taken(count, sequence.bound)

    def record(self, key: str) -> Record | None:
        """Return the state of `key`; reading a sequence does not count as using it."""
        with self._lock:
            sequence = self._live(key, self._clock())
            if sequence is None:
                return None
            return Record(sequence.bound, sequence.count, sequence.attempts())

    def keys(self, limit: int) -> list[str]:
        """Return the live keys, the most recently used first, at most `limit`."""
        with self._lock:
            self._expire(self._clock())
            return list(itertools.islice(reversed(self._sequences), limit))

    def forget(self, key: str) -> bool:
        """Forget `key`; tell whether it was known."""
        with self._lock:
            return self._sequences.pop(key, None) is not None

    def forget_all(self) -> int:
        """Forget every key; return how many there were."""
        with self._lock:
            self._expire(self._clock())
            count = len(self._sequences)
            self._sequences.clear()
            return count

    def ping(self) -> None:
        """The process's memory is always there."""
