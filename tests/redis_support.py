"""A real Redis for the tests: Debian's redis-server on a free loopback port, persistence off.

Tests that need it skip with the reason when redis-server is not installed,
except under CI=true, where they fail: CI must run them.
"""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from tests.support import LOOPBACK, free_port, skip_or_fail, stop

REDIS_SERVER = "redis-server"


def require_redis_server() -> str:
    """Return the path of redis-server; skip the test without it (fail under CI=true)."""
    path = shutil.which(REDIS_SERVER)
    if path is None:
        why = "redis-server is not installed (Debian: apt-get install redis-server)"
        skip_or_fail(why)
    return path


class RedisServer:
    """One redis-server process on loopback; stop() and start() keep its port."""

    def __init__(self, directory: str, port: int | None = None, password: str | None = None):
        self.directory = directory
        self.port = port or free_port()
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        """Start redis-server and return once it answers PING."""
        command = [
            require_redis_server(),
            *("--save", "", "--appendonly", "no"),
            *("--port", str(self.port), "--bind", LOOPBACK, "--daemonize", "no"),
            *("--dir", self.directory, "--protected-mode", "yes"),
            *(("--requirepass", self.password) if self.password else ()),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.process.stderr.read()!r}")
            if self.answers():
                return
            time.sleep(0.02)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def answers(self) -> bool:
        """Tell whether a PING on a fresh connection gets PONG."""
        with contextlib.suppress(OSError):
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                # With a password, the refusal (-NOAUTH) shows it serves too.
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        return False

    def command(self, *words: str) -> bytes:
        """Send one inline command and return the raw first reply chunk."""
        with socket.create_connection((LOOPBACK, self.port), timeout=2) as sock:
            sock.sendall(" ".join(words).encode() + b"\r\n")
            return sock.recv(65536)

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is not None:
            stop(self.process, timeout=10)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None


@contextlib.contextmanager
def running_redis(password: str | None = None) -> Iterator[RedisServer]:
    """Run a redis-server for the block; it is stopped after, whatever happens."""
    require_redis_server()
    with tempfile.TemporaryDirectory(prefix="simple_flask_redis_") as directory:
        server = RedisServer(directory, password=password)
        server.start()
        try:
            yield server
        finally:
            server.stop()
