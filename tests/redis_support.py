"""A real Redis for the tests (simple_flask.testing.redis_server), or a skip without one.

Tests that need it skip with the reason when redis-server is not installed,
except under CI=true, where they fail: CI must run them.
"""

import contextlib
from collections.abc import Iterator

from simple_flask.testing import redis_server
from simple_flask.testing.redis_server import RedisNotInstalled, RedisServer, find_redis_server
from tests.support import skip_or_fail


def require_redis_server() -> str:
    """Return the path of redis-server; skip the test without it (fail under CI=true)."""
    try:
        return find_redis_server()
    except RedisNotInstalled as missing:
        skip_or_fail(str(missing))


@contextlib.contextmanager
def running_redis(password: str | None = None) -> Iterator[RedisServer]:
    """Run a redis-server for the block; it is stopped after, whatever happens."""
    require_redis_server()
    with redis_server.running_redis(password) as server:
        yield server
