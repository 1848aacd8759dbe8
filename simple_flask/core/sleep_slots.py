"""A bounded number of requests that may sleep at once, so delays never starve a server."""

import math
import threading
import time
from collections.abc import Callable


class SlotsFull(Exception):
    """Every sleep slot is taken; `retry_after` is the whole seconds until one frees."""

    def __init__(self, slots: int, retry_after: int):
        super().__init__(
            f"all {slots} sleep slots are taken; retry in {retry_after} s, or without sleep"
        )
        self.slots = slots
        self.retry_after = retry_after


class SleepSlots:
    """At most `slots` callers of sleep() sleep at the same time; the others are refused at once.

    A new instance holds its own slots: each one limits only the sleeps that go
    through it.
    """

    def __init__(
        self,
        slots: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        # When each sleeper in a slot wakes, by `clock`; its length is the number of slots taken.
        self._wake_times: list[float] = []

    def in_use(self) -> int:
        """Return how many slots are taken now."""
        with self._lock:
            return len(self._wake_times)

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` in a free slot, or raise SlotsFull at once if none is free."""
        with self._lock:
            now = self._clock()
            if len(self._wake_times) >= self.slots:
                # The earliest sleeper frees its slot first; a client told to come
                # back then has a fair chance to find one.
                retry_after = max(1, math.ceil(min(self._wake_times) - now))
                raise SlotsFull(self.slots, retry_after)
            wake_time = now + seconds
            self._wake_times.append(wake_time)
        try:
            self._sleep(seconds)
        finally:
            with self._lock:
                self._wake_times.remove(wake_time)
