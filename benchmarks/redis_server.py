"""A redis-server for the Redis-store target: loopback, a free port, nothing kept on disk."""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .process import LOOPBACK, free_port, stop


@dataclass
class Redis:
    """A running redis-server, or why it could not run (`failure`)."""

    port: int = 0
    process: subprocess.Popen | None = None
    failure: str | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def send(self, command: bytes) -> bytes:
        """Send one inline command; return the start of the reply."""
        with socket.create_connection((LOOPBACK, self.port), timeout=2) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(64)

    def flush(self) -> None:
        """Empty the database."""
        self.send(b"FLUSHALL")


@contextlib.contextmanager
def running(timeout: float = 10) -> Iterator[Redis]:
    """Run redis-server (Debian's package) for the block; a missing one is a failure, not an error.

    The target that needs it then fails alone, as any target that cannot start.
    """
    path = shutil.which("redis-server")
    if path is None:
        yield Redis(failure="redis-server is not installed (apt-get install redis-server)")
        return
    with tempfile.TemporaryDirectory(prefix="benchmarks-redis-") as directory:
        redis = Redis(port=free_port())
        redis.process = subprocess.Popen(
            [
                *(path, "--save", "", "--appendonly", "no", "--port", str(redis.port)),
                *("--bind", LOOPBACK, "--daemonize", "no", "--dir", directory),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(OSError):
                    if redis.send(b"PING").startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline or redis.process.poll() is not None:
                    redis.failure = f"redis-server did not answer on port {redis.port}"
                    break
                time.sleep(0.02)
            yield redis
        finally:
            stop(redis.process)
