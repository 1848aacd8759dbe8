"""A real Redis: Debian's redis-server on a free loopback port, persistence off.

RedisServer runs one with its files in a given directory; running_redis()
runs one in a temporary directory for a block. Both speak RESP over a plain
socket, so that checking on the server needs nothing of the client library
the service itself uses.
"""

import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .processes import LOOPBACK, free_port, stop, wait_for

PROGRAM = "redis-server"
# A fresh redis-server answers within milliseconds; the bound is for a
# machine busy with other servers under test.
START_TIMEOUT = 30.0
# How long one command may wait for its reply.
REPLY_TIMEOUT = 5.0
# How much of redis-server's own log a failure to start quotes.
LOG_TAIL = 2000


class RedisUnavailable(RuntimeError):
    """redis-server could not serve: it is not installed, it exited, or it never answered."""


class RedisNotInstalled(RedisUnavailable):
    """No redis-server on PATH."""


def find_redis_server() -> str:
    """Return the path of redis-server; raise RedisNotInstalled, naming the package, without it."""
    path = shutil.which(PROGRAM)
    if path is None:
        raise RedisNotInstalled(f"{PROGRAM} is not installed (Debian: apt-get install {PROGRAM})")
    return path


def encode(*words: str) -> bytes:
    """Return the command `words` as a RESP array of bulk strings."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def read_reply(stream: BinaryIO) -> bytes:
    """Read one whole RESP reply from `stream`; return it as sent, such as b":77\\r\\n"."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis-server closed the connection in the middle of a reply")
    kind, size = line[:1], line[1:-2]
    if kind == b"$" and int(size) >= 0:
        # A bulk string: its bytes and their CRLF follow the length line.
        body = stream.read(int(size) + 2)
        if len(body) != int(size) + 2:
            raise ConnectionError("redis-server closed the connection in the middle of a reply")
        return line + body
    if kind == b"*" and int(size) > 0:
        return line + b"".join(read_reply(stream) for _ in range(int(size)))
    return line


class RedisServer:
    """One redis-server on loopback, its files in `directory`; stop() and start() keep its port.

    `password`, if given, is required of clients (requirepass); `program` is
    the redis-server to run, found on PATH when not given.
    """

    def __init__(
        self,
        directory: Path | str,
        port: int | None = None,
        password: str | None = None,
        program: str | None = None,
    ):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.password = password
        self.program = program
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL of its database 0, without the password."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def log(self) -> Path:
        """The file redis-server writes its own log to, over every start."""
        return self.directory / "redis.log"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start redis-server, return once it answers PING; raise RedisUnavailable if it cannot."""
        command = [
            self.program or find_redis_server(),
            *("--port", str(self.port), "--bind", LOOPBACK, "--daemonize", "no"),
            # Nothing is kept on disk: each start begins empty.
            *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            *("--protected-mode", "yes"),
            *(("--requirepass", self.password) if self.password else ()),
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_for(self.answers, timeout, self.process, interval=0.02):
            status = self.process.poll()
            self.stop()
            tail = self.log.read_text(errors="replace")[-LOG_TAIL:]
            raise RedisUnavailable(
                f"{PROGRAM} did not answer on port {self.port} (exit status {status}):\n{tail}"
            )

    def answers(self) -> bool:
        """Tell whether a PING on a fresh connection gets PONG."""
        with contextlib.suppress(OSError):
            return self.command("PING") == b"+PONG\r\n"
        return False

    def command(self, *words: str) -> bytes:
        """Send one command on a fresh connection, after AUTH if there is a password; return
        its whole reply as redis-server sent it (RESP), such as b"+OK\\r\\n" or b":77\\r\\n"."""
        with (
            socket.create_connection((LOOPBACK, self.port), timeout=REPLY_TIMEOUT) as connection,
            connection.makefile("rb") as replies,
        ):
            if self.password:
                connection.sendall(encode("AUTH", self.password))
                read_reply(replies)
            connection.sendall(encode(*words))
            return read_reply(replies)

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, then SIGKILL if it lingers); nothing if it is not running."""
        if self.process is not None:
            stop(self.process)
            self.process = None


@contextlib.contextmanager
def running_redis(
    password: str | None = None, prefix: str = "simple_flask_redis_"
) -> Iterator[RedisServer]:
    """Run a redis-server in a new temporary directory (named with `prefix`) for the block.

    It is stopped and the directory removed after, whatever happens; raises
    RedisUnavailable (RedisNotInstalled without the program) if it cannot start.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        server = RedisServer(directory, password=password)
        try:
            server.start()
            yield server
        finally:
            server.stop()
