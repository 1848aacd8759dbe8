"""The Redis sequence store: one sequence seen alike by every replica sharing a Redis.

Each sequence `k` lives in two keys under the store's prefix, which live and
die together: `<prefix>:seq:{k}` (a hash: the list it is bound to, its count)
and `<prefix>:seq:{k}:attempts` (its latest attempts, "ms method sent"). An
index, `<prefix>:index` (a sorted set by last use), lists the sequences, so
that the store can list them, forget them all, and keep at most
`max_sequences` of its own whatever Redis's eviction policy is.

Each attempt is taken by one Lua script, in one round trip: it checks the
key's binding to its list, increments its counter, records the attempt
(trimmed to the last MAX_HISTORY), renews the expiry of both keys, and in the
same step forgets the least recently used sequences over the bound. Redis
runs a script alone, so concurrent requests on one key never share or skip
a number. The time comes from Redis (TIME), so replicas with skewed clocks
still date one sequence's attempts on one clock. The scripts name other
sequences' keys than those passed to them, so the store needs one Redis,
not a cluster.

Nothing is retried: a command that timed out may have run, and running it
again would skip a number. With connect and read timeouts of 0.5 s, a Redis
that is down or stalled gets the request a 503 within about a second; redis-py
reconnects by itself on the next request once Redis is back.
"""

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError, ResponseError, TimeoutError
from redis.retry import Retry

from ..core.errors import SequenceConflict, StoreUnavailable
from ..core.sequences import MAX_HISTORY, Attempt, Record, Taken
from ..core.settings import redact_url
from .guard import StoreGuard
from .redis_scripts import FORGET_ALL, TAKE

T = TypeVar("T")

logger = logging.getLogger("simple_flask.state")

TIMEOUT_SECONDS = 0.5
DEFAULT_PREFIX = "simple_flask"
# What tells that the connection to Redis failed, not a command: the breaker opens.
_CONNECTION_FAILURES = (ConnectionError, TimeoutError, OSError)
# A readiness check writes this key (under the prefix), expiring on its own.
READY_KEY = "ready"
READY_TTL_MS = 10_000


class RedisStore:
    """Sequences kept in Redis under `prefix`, shared by every replica pointed at it."""

    def __init__(
        self,
        url: str,
        ttl: int = 600,
        max_sequences: int = 10_000,
        prefix: str = DEFAULT_PREFIX,
        waiting: int = 2,
    ):
        """At most `waiting` requests wait on Redis at once (see .guard)."""
        self.ttl = ttl
        self.max_sequences = max_sequences
        self.prefix = prefix
        self.index = f"{prefix}:index"
        self.where = redact_url(url)
        self.guard = StoreGuard(waiting)
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=True,
        )
        self._take = self.client.register_script(TAKE)
        self._forget_all = self.client.register_script(FORGET_ALL)

    def keys_of(self, key: str) -> tuple[str, str]:
        """Return the Redis keys of sequence `key`: its hash and its attempts."""
        # The braces keep a sequence's two keys in one hash slot.
        hash_key = f"{self.prefix}:seq:{{{key}}}"
        return hash_key, f"{hash_key}:attempts"

    def _run(self, command: Callable[[], T], queue: bool = True) -> T:
        """Run `command` on Redis through the guard; raise StoreUnavailable if it fails."""
        with self.guard.call(queue):
            try:
                return command()
            except (RedisError, OSError) as error:
                if isinstance(error, _CONNECTION_FAILURES):
                    self.guard.failed()
                # The class and the redacted URL only: redis-py's messages are
                # not promised to leave out what the URL held.
                logger.warning(
                    "sequence store %s unavailable: %s", self.where, type(error).__name__
                )
                # The client learns that the store is down, not where it is.
                raise StoreUnavailable("the sequence store is unavailable") from None

    def take(self, key: str, bound: str, sent: Sequence[str], method: str) -> Taken:
        """Bind `key` to `bound` if new and hand out its next attempt number, atomically."""
        args: list[str | int | float] = [key, bound, self.ttl, MAX_HISTORY]
        args += [self.max_sequences, self.prefix, method, *sent]
        # redis-py sends EVALSHA, and on NOSCRIPT (a restarted Redis lost its
        # script cache, and ran nothing) loads the script and sends it again.
        count, stored = self._run(
            lambda: self._take(keys=[*self.keys_of(key), self.index], args=args)
        )
        if int(count) == 0:
            raise SequenceConflict(key, stored, bound)
        return Taken(int(count), stored)

    def record(self, key: str) -> Record | None:
        """Return what Redis holds for `key`, read in one transaction; None if unusable."""
        hash_key, attempts_key = self.keys_of(key)

        def read() -> tuple[list[str | None], list[str]] | None:
            pipe = self.client.pipeline(transaction=True)
            pipe.hmget(hash_key, ["list", "count"])
            pipe.lrange(attempts_key, -MAX_HISTORY, -1)
            try:
                fields, lines = pipe.execute()
            except ResponseError:
                # A key of another type (WRONGTYPE): no sequence of ours.
                return None
            return fields, lines

        found = self._run(read)
        if found is None:
            return None
        (bound, count), lines = found
        if bound is None or count is None or not count.isdigit():
            return None
        attempts = []
        for line in lines:
            ms, _, rest = line.partition(" ")
            method, _, sent = rest.partition(" ")
            if ms.isdigit() and sent:
                attempts.append(Attempt(int(ms) / 1000, method, sent))
        # Never more attempts than counted, whatever was left in the list.
        return Record(bound, int(count), tuple(attempts[-int(count) :] if count != "0" else ()))

    def keys(self, limit: int) -> list[str]:
        """Return the keys of the sequences kept, the most recently used first, at most `limit`."""

        def read() -> list[str]:
            try:
                return [str(key) for key in self.client.zrevrange(self.index, 0, limit - 1)]
            except ResponseError:
                return []

        return self._run(read)

    def forget(self, key: str) -> bool:
        """Delete both keys of `key` and its place in the index; tell whether it was known."""

        def delete() -> bool:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(*self.keys_of(key))
            pipe.zrem(self.index, key)
            try:
                deleted, _ = pipe.execute()
            except ResponseError:
                # The index is of another type: the keys are gone all the same.
                return True
            return bool(deleted)

        return self._run(delete)

    def forget_all(self) -> int:
        """Forget every sequence of this store's prefix; return how many there were."""
        return int(self._run(lambda: self._forget_all(keys=[self.index], args=[self.prefix])))

    def ping(self) -> None:
        """Return when Redis accepts a write; a Redis out of memory refuses it.

        Takes no place among the requests waiting on Redis, so that readiness
        is told however busy the store is; a breaker open fails it at once.
        """
        ready = f"{self.prefix}:{READY_KEY}"
        self._run(lambda: self.client.set(ready, "1", px=READY_TTL_MS), queue=False)
