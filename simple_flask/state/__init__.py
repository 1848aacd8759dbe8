"""Where failure sequences live: open_store() builds the store a state URL names.

`memory://` keeps them in this process (state/memory.py); `redis://` and
`rediss://` keep them in Redis, shared by every replica (state/redis.py).
This package imports simple_flask.core only, never a web framework.
"""

from ..core.sequences import SequenceStore
from ..core.settings import MEMORY_URL


def open_store(
    url: str, ttl: int, max_sequences: int, prefix: str = "simple_flask", waiting: int = 2
) -> SequenceStore:
    """Return the store `url` names (already validated by Settings), keeping sequences `ttl` s.

    Either keeps at most `max_sequences`, forgetting the least recently used
    first; Redis keeps them under its keys' `prefix`, with at most `waiting`
    requests waiting on it at once (state/guard.py). Nothing is connected
    here: a Redis that is down at start-up only makes sequence requests
    answer 503 until it is up.
    """
    if url == MEMORY_URL:
        from .memory import MemoryStore

        return MemoryStore(ttl=ttl, max_sequences=max_sequences)
    from .redis import RedisStore

    return RedisStore(url, ttl=ttl, max_sequences=max_sequences, prefix=prefix, waiting=waiting)


__all__ = ["open_store"]
