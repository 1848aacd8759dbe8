"""Both sequence stores keep one contract; the memory store's bounds; Redis's atomic script.

The Redis tests run against a real redis-server (tests/redis_support.py).
"""

import os
import signal
import threading
import time

import pytest

from simple_flask.core.errors import SequenceConflict, StoreUnavailable
from simple_flask.state import open_store
from simple_flask.state.memory import MemoryStore
from simple_flask.state.redis import RedisStore
from tests.simple_flask.core.test_sequences import documented_history
from tests.support import free_port


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore(ttl=60, max_sequences=100)
    return RedisStore(request.getfixturevalue("redis_url"), ttl=60)


def test_numbers_count_from_one_and_the_binding_holds(store):
    assert [store.take("k", "503,200").number for _ in range(3)] == [1, 2, 3]
    assert store.take("other", "200").number == 1
    with pytest.raises(SequenceConflict) as raised:
        store.take("k", "500")
    assert (raised.value.bound, raised.value.asked) == ("503,200", "500")
    # A refused request takes no number.
    assert store.take("k", "503,200").number == 4


def test_the_record_holds_the_last_attempts_and_forget_starts_again(store):
    kept = documented_history()
    assert store.record("k") is None
    # Whole seconds around the takes: Redis dates them by its clock in milliseconds.
    before = int(time.time())
    for _ in range(kept + 30):
        store.take("k", "503,200")
    after = int(time.time()) + 1
    record = store.record("k")
    assert record.bound == "503,200"
    assert record.count == kept + 30
    assert len(record.times) == kept
    assert list(record.times) == sorted(record.times)
    assert before <= record.times[0] and record.times[-1] <= after
    assert store.forget("k") is True
    assert store.forget("k") is False
    assert store.record("k") is None
    assert store.take("k", "200").number == 1


def test_concurrent_takes_never_share_or_skip_a_number(store):
    numbers: list[int] = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            taken = store.take("shared", "200,500")
            with lock:
                numbers.append(taken.number)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(numbers) == list(range(1, 401))


def test_open_store_picks_the_store_the_url_names(redis_url):
    assert isinstance(open_store("memory://", 600, 10), MemoryStore)
    redis_store = open_store(redis_url, 600, 10)
    assert isinstance(redis_store, RedisStore)
    redis_store.ping()


# --- the memory store's bounds ----------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_sequence_is_forgotten_after_the_ttl():
    clock = Clock()
    store = MemoryStore(ttl=10, max_sequences=100, clock=clock)
    store.take("k", "503,200")
    clock.now += 9.9
    assert store.take("k", "503,200").number == 2
    clock.now += 9.9
    assert store.record("k").count == 2
    clock.now += 0.2
    assert store.record("k") is None
    # Forgotten, so another list may take the key.
    assert store.take("k", "500").number == 1


def test_the_least_recently_used_sequence_goes_first():
    store = MemoryStore(ttl=60, max_sequences=3)
    for key in "abc":
        store.take(key, "200")
    store.take("a", "200")
    store.take("d", "200")
    assert len(store) == 3
    assert store.record("b") is None
    assert {key for key in "acd" if store.record(key)} == {"a", "c", "d"}


def test_the_memory_store_refuses_no_room():
    with pytest.raises(ValueError):
        MemoryStore(max_sequences=0)


# --- Redis out of reach -------------------------------------------------------------------------


def test_a_redis_that_is_not_there_is_unavailable_at_once(caplog):
    store = RedisStore(f"redis://:hunter2secret@127.0.0.1:{free_port()}/0")
    for call in (lambda: store.take("k", "200"), store.ping, lambda: store.record("k")):
        with caplog.at_level("WARNING", logger="simple_flask.state"):
            with pytest.raises(StoreUnavailable) as raised:
                call()
        # The client learns that the store is down; the log says where, without the secret.
        assert str(raised.value) == "the sequence store is unavailable"
        assert "redis://***@127.0.0.1" in caplog.text and "hunter2secret" not in caplog.text


def test_a_stalled_redis_is_unavailable_and_back_after(redis_server, redis_url):
    store = RedisStore(redis_url)
    assert store.take("k", "503,200").number == 1
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        # Redis stays stopped until the take gives up: only the store's own
        # timeout can end it, and it does so with StoreUnavailable.
        with pytest.raises(StoreUnavailable):
            store.take("k", "503,200")
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    # The stalled command ran once Redis woke, once: it counted as attempt 2.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            assert store.take("k", "503,200").number == 3
            break
        except StoreUnavailable:
            time.sleep(0.05)
    else:
        raise AssertionError("Redis never answered again")


def test_redis_keeps_the_ttl_on_both_keys(redis_server, redis_url):
    store = RedisStore(redis_url, ttl=7777)
    store.take("k", "200")
    for key in (b"simple_flask:sequence:{k}", b"simple_flask:sequence:{k}:times"):
        reply = redis_server.command("TTL", key.decode())
        # Counting down from 7777 since the take: minutes of slack, and no other TTL fits.
        assert 7000 <= int(reply[1:].strip()) <= 7777, reply
