"""A bounded memo: a dict that keeps at most `size` entries, dropping the oldest first."""

import threading
from collections.abc import Hashable
from typing import Any


class BoundedMemo(dict[Hashable, Any]):
    """A dict of at most `size` entries, for values worked out from what clients send.

    Reads are plain dict reads (no lock, no Python call). keep() stores under
    a lock and, when the memo is full, drops the oldest entries first (dicts
    keep insertion order), so a client that sends ever new values cannot
    make it grow.
    """

    def __init__(self, size: int):
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._lock = threading.Lock()

    def keep(self, key: Hashable, value: object) -> None:
        """Store `value` under `key`, dropping the oldest entries to stay within `size`."""
        with self._lock:
            while len(self) >= self.size:
                del self[next(iter(self))]
            self[key] = value
