"""Both sequence stores keep one contract; the memory store's bounds; Redis's atomic script.

The Redis tests run against a real redis-server (tests/redis_support.py).
"""

import os
import signal
import threading
import time
import tracemalloc

import pytest

from simple_flask.core.errors import SequenceConflict, StoreUnavailable
from simple_flask.core.sequences import MAX_HISTORY
from simple_flask.core.settings import Settings
from simple_flask.state import open_store
from simple_flask.state.memory import MemoryStore
from simple_flask.state.redis import RedisStore
from tests.simple_flask.core.test_sequences import documented_history
from tests.support import free_port


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore(ttl=60, max_sequences=100)
    # As many may wait on Redis as the tests run threads: the contract, not the guard.
    url = request.getfixturevalue("redis_url")
    return RedisStore(url, ttl=60, max_sequences=100, waiting=8)


def take(store, key: str, bound: str, method: str = "GET"):
    """Take the next attempt of `key`, each entry of `bound` sending itself."""
    return store.take(key, bound, bound.split(","), method)


def test_numbers_count_from_one_and_the_binding_holds(store):
    assert [take(store, "k", "503,200").number for _ in range(3)] == [1, 2, 3]
    assert take(store, "other", "200").number == 1
    with pytest.raises(SequenceConflict) as raised:
        take(store, "k", "500")
    assert (raised.value.bound, raised.value.asked) == ("503,200", "500")
    # A refused request takes no number.
    assert take(store, "k", "503,200").number == 4


def test_the_record_holds_the_last_attempts_and_forget_starts_again(store):
    kept = documented_history()
    assert store.record("k") is None
    # Whole seconds around the takes: Redis dates them by its clock in milliseconds.
    before = int(time.time())
    for _ in range(kept + 30):
        take(store, "k", "503,200")
    after = int(time.time()) + 1
    record = store.record("k")
    assert record.bound == "503,200"
    assert record.count == kept + 30
    times = [attempt.at for attempt in record.attempts]
    assert len(times) == kept
    assert times == sorted(times)
    assert before <= times[0] and times[-1] <= after
    assert store.forget("k") is True
    assert store.forget("k") is False
    assert store.record("k") is None
    assert take(store, "k", "200").number == 1


def test_each_attempt_records_its_method_and_what_it_sent(store):
    sent = ["503;retry_after=2", "200;sleep=40"]
    for method in ("GET", "POST", "DELETE"):
        store.take("k", "503;retry_after=2,200", sent, method)
    attempts = store.record("k").attempts
    assert [(a.method, a.sent) for a in attempts] == [
        ("GET", "503;retry_after=2"),
        ("POST", "200;sleep=40"),
        ("DELETE", "200;sleep=40"),
    ]


def test_the_keys_are_listed_most_recently_used_first_and_forgotten_all_at_once(store):
    for key in ("a", "b", "c"):
        take(store, key, "200")
    take(store, "a", "200")
    assert store.keys(10) == ["a", "c", "b"]
    assert store.keys(2) == ["a", "c"]
    assert store.forget_all() == 3
    assert store.keys(10) == [] and store.record("a") is None
    assert take(store, "a", "500").number == 1


def test_concurrent_takes_never_share_or_skip_a_number(store):
    numbers: list[int] = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            taken = take(store, "shared", "200,500")
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
    take(store, "k", "503,200")
    clock.now += 9.9
    assert take(store, "k", "503,200").number == 2
    clock.now += 9.9
    assert store.record("k").count == 2
    clock.now += 0.2
    assert store.record("k") is None
    # Forgotten, so another list may take the key.
    assert take(store, "k", "500").number == 1


def test_the_least_recently_used_sequence_goes_first():
    store = MemoryStore(ttl=60, max_sequences=3)
    for key in "abc":
        take(store, key, "200")
    take(store, "a", "200")
    take(store, "d", "200")
    assert len(store) == 3
    assert store.record("b") is None
    assert {key for key in "acd" if store.record(key)} == {"a", "c", "d"}


def test_the_memory_store_refuses_no_room():
    with pytest.raises(ValueError):
        MemoryStore(max_sequences=0)


# --- Redis out of reach -------------------------------------------------------------------------


def test_a_redis_that_is_not_there_is_unavailable_at_once(caplog):
    store = RedisStore(f"redis://:hunter2secret@127.0.0.1:{free_port()}/0")
    for call in (lambda: take(store, "k", "200"), store.ping, lambda: store.record("k")):
        with caplog.at_level("WARNING", logger="simple_flask.state"):
            with pytest.raises(StoreUnavailable) as raised:
                call()
        # The client learns that the store is down; the log says where, without the secret.
        assert str(raised.value).startswith("the sequence store is unavailable")
        assert "redis://***@127.0.0.1" in caplog.text and "hunter2secret" not in caplog.text


def test_a_stalled_redis_is_unavailable_and_back_after(redis_server, redis_url):
    store = RedisStore(redis_url)
    assert take(store, "k", "503,200").number == 1
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        # Redis stays stopped until the take gives up: only the store's own
        # timeout can end it, and it does so with StoreUnavailable.
        with pytest.raises(StoreUnavailable):
            take(store, "k", "503,200")
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    # The stalled command ran once Redis woke, once: it counted as attempt 2.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            assert take(store, "k", "503,200").number == 3
            break
        except StoreUnavailable:
            time.sleep(0.05)
    else:
        raise AssertionError("Redis never answered again")


def test_redis_keeps_the_ttl_on_both_keys(redis_server, redis_url):
    store = RedisStore(redis_url, ttl=7777)
    take(store, "k", "200")
    for key in (b"simple_flask:seq:{k}", b"simple_flask:seq:{k}:attempts"):
        reply = redis_server.command("TTL", key.decode())
        # Counting down from 7777 since the take: minutes of slack, and no other TTL fits.
        assert 7000 <= int(reply[1:].strip()) <= 7777, reply


# --- bounds, foreign values, prefixes ----------------------------------------------------------


def test_the_memory_stores_worst_case_fits_the_default_bound_in_16_mib():
    # The longest entry every option allows, fifty times, each attempt sending
    # a pick of its own: nothing repeats for interning to share.
    entry = (
        "599;sleep=9000..10000;stall=9000..10000;truncate=999999999;retry_after=date:86400;"
        "size=10485760;rate=999999999999999"
    )
    bound = ",".join([entry] * 50)
    store = MemoryStore(max_sequences=1_000_000)
    picks = iter(range(10**9, 2 * 10**9))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(100):
            key = f"{number:064d}"
            for _ in range(MAX_HISTORY + 10):
                store.take(key, bound, [entry.replace("9000..10000", str(next(picks)))], "PATCH")
        per_key = (tracemalloc.get_traced_memory()[0] - before) / 100
    finally:
        tracemalloc.stop()
    print(f"worst case: {per_key / 1024:.1f} KiB a sequence")
    assert per_key * Settings().max_sequences < 16 * 1024 * 1024
    assert len(store.record(f"{0:064d}").attempts) == MAX_HISTORY


def test_two_prefixes_keep_one_key_apart(redis_url):
    one = RedisStore(redis_url, prefix="team-a")
    two = RedisStore(redis_url, prefix="team-b")
    assert take(one, "shared", "503,200").number == 1
    # Another list under the same key is no conflict, and counts on its own.
    assert [take(two, "shared", "500").number for _ in range(2)] == [1, 2]
    assert take(one, "shared", "503,200").number == 2
    assert one.keys(10) == ["shared"] and two.forget_all() == 1
    assert one.record("shared").count == 2


def test_redis_keeps_at_most_its_bound_of_sequences(redis_server, redis_url):
    store = RedisStore(redis_url, max_sequences=30, prefix="bounded")
    for number in range(100):
        take(store, f"k{number}", "200")
    keys = redis_server.command("KEYS", "bounded:seq:*")
    # Two keys a sequence, the 30 most recent.
    assert keys.count(b"bounded:seq:") == 60, keys
    assert store.record("k69") is None and store.record("k70").count == 1
    assert len(store.keys(1000)) == 30


def test_foreign_or_partial_values_are_no_sequence_never_an_error(redis_server, redis_url):
    store = RedisStore(redis_url, prefix="foreign")
    hash_key, attempts_key = store.keys_of("k")
    # A string where the hash goes: its report is unknown, and a take starts afresh.
    redis_server.command("SET", hash_key, "junk")
    assert store.record("k") is None
    assert take(store, "k", "503,200").number == 1
    # A history left without its sequence (the hash deleted by hand).
    take(store, "k", "503,200")
    redis_server.command("DEL", hash_key)
    assert store.record("k") is None
    assert take(store, "k", "503,200").number == 1
    assert [a.sent for a in store.record("k").attempts] == ["503"]
    # A count that is no number, and a set where the history goes.
    redis_server.command("HSET", hash_key, "count", "many")
    assert store.record("k") is None
    assert take(store, "k", "503,200").number == 1
    redis_server.command("DEL", attempts_key)
    redis_server.command("SADD", attempts_key, "x")
    assert store.record("k") is None
    assert take(store, "k", "503,200").number == 2
    # An index of another type.
    redis_server.command("SET", store.index, "junk")
    assert store.keys(10) == []
    assert take(store, "k", "503,200").number == 3
    assert store.keys(10) == ["k"]


def test_readiness_needs_a_redis_that_takes_writes(redis_server, redis_url):
    store = RedisStore(redis_url, prefix="ready")
    store.ping()
    redis_server.command("CONFIG", "SET", "maxmemory", "1")
    redis_server.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
    finally:
        redis_server.command("CONFIG", "SET", "maxmemory", "0")
    store.ping()
