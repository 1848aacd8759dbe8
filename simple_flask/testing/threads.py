"""Client threads for a block of code: started when it begins, stopped and joined when it ends."""

import threading
from collections.abc import Callable
from typing import Any

# A client thread that outlives this after being told to stop is a defect of its own.
JOIN_SECONDS = 60.0


class Clients:
    """Run each of `targets` in a daemon thread for the `with` block.

    The targets watch `stopping`, set when the block ends; each thread is then
    joined, and one still alive after JOIN_SECONDS raises AssertionError.
    """

    def __init__(self, targets: list[Callable[[], Any]]):
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=target, daemon=True) for target in targets]

    def __enter__(self) -> "Clients":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(JOIN_SECONDS)
        stuck = [thread.name for thread in self.threads if thread.is_alive()]
        if stuck:
            raise AssertionError(f"client threads still running: {', '.join(stuck)}")
