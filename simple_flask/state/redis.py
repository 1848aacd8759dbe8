"""The Redis sequence store: one sequence seen alike by every replica sharing a Redis.

Each attempt is taken by one Lua script, in one round trip: it checks the
key's binding to its list, increments its counter, appends the time to its
history (trimmed to the last MAX_HISTORY) and renews the expiry of both keys.
Redis runs a script alone, so concurrent requests on one key never share or
skip a number. The time comes from Redis (TIME), so replicas with skewed
clocks still date one sequence's attempts on one clock.

Nothing is retried: a command that timed out may have run, and running it
again would skip a number. With connect and read timeouts of 0.5 s, a Redis
that is down or stalled gets the request a 503 within about a second; redis-py
reconnects by itself on the next request once Redis is back.
"""

import logging

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ..core.errors import SequenceConflict, StoreUnavailable
from ..core.sequences import MAX_HISTORY, Record, Taken
from ..core.settings import redact_url

logger = logging.getLogger("simple_flask.state")

TIMEOUT_SECONDS = 0.5
PREFIX = "simple_flask:sequence:"
# KEYS: the hash (list, count), the list of attempt times in ms.
# ARGV: the list asked for, the TTL in seconds, the history length.
# Returns {count, bound list}; count 0 means the key is bound to another list.
_TAKE = """
local bound = redis.call('HGET', KEYS[1], 'list')
if bound and bound ~= ARGV[1] then
  return {0, bound}
end
if not bound then
  redis.call('HSET', KEYS[1], 'list', ARGV[1])
end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local now = redis.call('TIME')
redis.call('RPUSH', KEYS[2], now[1] * 1000 + math.floor(now[2] / 1000))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {count, ARGV[1]}
"""


def _keys(key: str) -> list[str]:
    # The braces make both keys one hash slot, so the script also runs on a cluster.
    return [f"{PREFIX}{{{key}}}", f"{PREFIX}{{{key}}}:times"]


class RedisStore:
    """Sequences kept in Redis, shared by every replica pointed at it."""

    def __init__(self, url: str, ttl: int = 600):
        self.ttl = ttl
        self.where = redact_url(url)
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=True,
        )
        self._take = self.client.register_script(_TAKE)

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        # The class and the redacted URL only: redis-py's messages are not
        # promised to leave out what the URL held.
        logger.warning("sequence store %s unavailable: %s", self.where, type(error).__name__)
        # The client learns that the store is down, not where it is.
        return StoreUnavailable("the sequence store is unavailable")

    def take(self, key: str, bound: str) -> Taken:
        """Bind `key` to `bound` if new and hand out its next attempt number, atomically."""
        try:
            # redis-py sends EVALSHA, and on NOSCRIPT (a restarted Redis lost
            # its script cache, and ran nothing) loads the script and sends it again.
            count, stored = self._take(keys=_keys(key), args=[bound, self.ttl, MAX_HISTORY])
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None
        if int(count) == 0:
            raise SequenceConflict(key, stored, bound)
        return Taken(int(count), stored)

    def record(self, key: str) -> Record | None:
        """Return what Redis holds for `key`, read in one transaction."""
        hash_key, times_key = _keys(key)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hmget(hash_key, ["list", "count"])
            pipe.lrange(times_key, -MAX_HISTORY, -1)
            (bound, count), times = pipe.execute()
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None
        if bound is None:
            return None
        return Record(bound, int(count or 0), tuple(int(ms) / 1000 for ms in times))

    def forget(self, key: str) -> bool:
        """Delete both keys of `key`; tell whether it was known."""
        try:
            return bool(self.client.delete(*_keys(key)))
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None

    def ping(self) -> None:
        """Return when Redis answers PING."""
        try:
            self.client.ping()
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None
