"""The sleep limiter: at most N sleepers at once, the others refused at once."""

import threading

import pytest

from simple_flask.core.errors import SlotsFull
from simple_flask.core.sleep_slots import SleepSlots


class GatedSleep:
    """A stand-in for time.sleep that blocks until the test opens the gate."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls: list[float] = []
        self.entered = threading.Semaphore(0)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.entered.release()
        # Only a hang guard: every test opens the gate.
        assert self.gate.wait(120), "the test never opened the gate"


def fill(slots: SleepSlots, count: int, sleep: GatedSleep, seconds: float = 5.0):
    """Start `count` sleepers and return once each one holds its slot."""
    threads = [threading.Thread(target=slots.sleep, args=(seconds,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert sleep.entered.acquire(timeout=10)
    return threads


def test_at_most_n_sleep_at_once_and_the_next_is_refused_at_once():
    sleep = GatedSleep()
    slots = SleepSlots(2, sleep=sleep)
    threads = fill(slots, 2, sleep)
    try:
        assert slots.in_use() == 2
        with pytest.raises(SlotsFull) as raised:
            slots.sleep(1.0)
        assert raised.value.slots == 2
        assert "all 2 sleep slots are taken" in str(raised.value)
        assert len(sleep.calls) == 2  # the refused caller never slept
    finally:
        sleep.gate.set()
        for thread in threads:
            thread.join(10)
    assert slots.in_use() == 0


def test_a_slot_frees_when_its_sleeper_wakes():
    sleep = GatedSleep()
    slots = SleepSlots(1, sleep=sleep)
    threads = fill(slots, 1, sleep)
    with pytest.raises(SlotsFull):
        slots.sleep(0.5)
    sleep.gate.set()
    threads[0].join(10)
    slots.sleep(0.5)  # the gate is open: this returns at once
    assert sleep.calls == [5.0, 0.5]
    assert slots.in_use() == 0


def test_retry_after_is_the_whole_seconds_until_the_earliest_sleeper_wakes():
    now = [100.0]
    sleep = GatedSleep()
    slots = SleepSlots(2, sleep=sleep, clock=lambda: now[0])
    threads = fill(slots, 1, sleep, seconds=7.5) + fill(slots, 1, sleep, seconds=3.2)
    try:
        with pytest.raises(SlotsFull) as raised:
            slots.sleep(1)
        assert raised.value.retry_after == 4  # 3.2 s, rounded up
        now[0] = 103.1
        with pytest.raises(SlotsFull) as raised:
            slots.sleep(1)
        assert raised.value.retry_after == 1  # never 0: that would invite a busy loop
    finally:
        sleep.gate.set()
        for thread in threads:
            thread.join(10)


def test_a_sleep_that_fails_still_frees_its_slot():
    def broken(seconds: float) -> None:
        raise RuntimeError("interrupted")

    slots = SleepSlots(1, sleep=broken)
    with pytest.raises(RuntimeError):
        slots.sleep(1)
    assert slots.in_use() == 0


def test_separate_instances_have_separate_slots():
    sleep = GatedSleep()
    first, second = SleepSlots(1, sleep=sleep), SleepSlots(1, sleep=sleep)
    threads = fill(first, 1, sleep)
    try:
        with pytest.raises(SlotsFull):
            first.sleep(1)
        threads += fill(second, 1, sleep)
        assert second.in_use() == 1
    finally:
        sleep.gate.set()
        for thread in threads:
            thread.join(10)


@pytest.mark.parametrize("count", [0, -1])
def test_at_least_one_slot(count):
    with pytest.raises(ValueError, match="at least 1"):
        SleepSlots(count)
