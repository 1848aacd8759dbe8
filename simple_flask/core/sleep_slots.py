"""A bounded number of requests that may sleep at once, so delays never starve a server."""

import math
import threading
import time
from collections.abc import Callable

from .errors import SlotsFull


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
        self.take(seconds).sleep()

    def take(self, seconds: float) -> "Slot":
        """Take a free slot for a sleep of `seconds` to come, or raise SlotsFull at once.

        The slot is held until its sleep() ends or its release(): a stalled body
        is refused before its headers go out, and sleeps after they have.
        """
        with self._lock:
            now = self._clock()
            if len(self._wake_times) >= self.slots:
                # The earliest sleeper frees its slot first; a client told to come
                # back then has a fair chance to find one.
                retry_after = max(1, math.ceil(min(self._wake_times) - now))
                raise SlotsFull(self.slots, retry_after)
            wake_time = now + seconds
            self._wake_times.append(wake_time)
        return Slot(self, seconds, wake_time)

    def _release(self, wake_time: float) -> None:
        with self._lock:
            self._wake_times.remove(wake_time)


class Slot:
    """One taken sleep slot: sleep() sleeps in it and frees it; release() frees it unused."""

    def __init__(self, slots: SleepSlots, seconds: float, wake_time: float):
        self._slots = slots
        self.seconds = seconds
        self._wake_time = wake_time
        self._held = True
        self._lock = threading.Lock()

    def sleep(self) -> None:
        """Sleep the slot's seconds, then free it."""
        try:
            self._slots._sleep(self.seconds)
        finally:
            self.release()

    def wait(self, seconds: float) -> None:
        """Sleep `seconds` of the slot's time, keeping it: more waits may follow."""
        self._slots._sleep(seconds)

    def release(self) -> None:
        """Free the slot; later calls do nothing."""
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._slots._release(self._wake_time)
