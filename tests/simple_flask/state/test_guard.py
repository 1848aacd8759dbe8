"""The bulkhead and the breaker around a remote store, on a clock the test turns."""

import threading

import pytest

from simple_flask.core.errors import StoreUnavailable
from simple_flask.state.guard import QUEUE_SECONDS, StoreGuard


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_at_most_waiting_calls_run_at_once_and_another_is_refused():
    guard = StoreGuard(waiting=2, clock=Clock())
    inside = threading.Barrier(3)
    leave = threading.Event()

    def call():
        with guard.call():
            inside.wait(30)
            leave.wait(30)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(30)
    try:
        # Two calls hold both places and finish none: a third waits its
        # QUEUE_SECONDS, then is refused.
        with pytest.raises(StoreUnavailable) as refused:
            with guard.call():
                pass
        assert refused.value.retry_after == 1
        assert "2 requests already wait on it" in str(refused.value)
        # A health check takes no place.
        with guard.call(queue=False):
            pass
    finally:
        leave.set()
        for thread in threads:
            thread.join(30)
    with guard.call():
        pass
    assert QUEUE_SECONDS < 1


def test_after_a_failure_every_call_is_refused_for_the_pause_then_goes_through():
    clock = Clock()
    guard = StoreGuard(waiting=1, pause=2.5, clock=clock)
    guard.failed()
    for queue in (True, False):
        with pytest.raises(StoreUnavailable) as refused:
            with guard.call(queue):
                pass
        assert refused.value.retry_after == 3
    clock.now += 2.4
    with pytest.raises(StoreUnavailable):
        with guard.call():
            pass
    clock.now += 0.1
    assert guard.open_for() == 0
    with guard.call():
        pass


def test_a_refused_call_leaves_its_place_free():
    guard = StoreGuard(waiting=1, clock=Clock())
    with pytest.raises(ValueError):
        with guard.call():
            raise ValueError("the store answered badly")
    with guard.call():
        pass
    with pytest.raises(ValueError, match="at least 1"):
        StoreGuard(waiting=0)


def test_a_queue_that_moves_keeps_its_callers_past_one_window():
    """A busy store that answers: calls wait their turn rather than get 503."""
    window = 0.5
    guard = StoreGuard(waiting=1, clock=Clock(), window=window, patience=60)
    first_inside = threading.Event()
    release = threading.Event()
    outcomes = []

    def held():
        with guard.call():
            first_inside.set()
            release.wait(30)

    def short():
        # Each call keeps its place a tenth of the window: the queue moves well
        # within every window, and all of them take longer than one in all.
        try:
            with guard.call():
                threading.Event().wait(window / 10)
            outcomes.append("served")
        except StoreUnavailable:
            outcomes.append("refused")

    holder = threading.Thread(target=held)
    holder.start()
    first_inside.wait(30)
    callers = [threading.Thread(target=short) for _ in range(20)]
    for caller in callers:
        caller.start()
    release.set()
    for thread in (holder, *callers):
        thread.join(60)
    assert outcomes == ["served"] * 20


def test_a_queued_call_is_refused_once_the_calls_inside_have_failed():
    clock = Clock()
    guard = StoreGuard(waiting=1, pause=5, clock=clock, window=30)
    inside = threading.Event()
    refused = []

    def failing():
        with guard.call():
            inside.set()
            # The call inside times out on the store.
            while not guard.queued:
                threading.Event().wait(0.01)
            guard.failed()

    def queued():
        try:
            with guard.call():
                pass
        except StoreUnavailable as error:
            refused.append(str(error))

    first = threading.Thread(target=failing)
    first.start()
    inside.wait(30)
    second = threading.Thread(target=queued)
    second.start()
    for thread in (first, second):
        thread.join(60)
    assert len(refused) == 1 and "failed a moment ago" in refused[0]
