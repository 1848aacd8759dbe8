"""A real waitress server on a free loopback port, driven from the calling thread, for the proofs.

ProbeServer builds a waitress server exactly as the service's (the same
adjustments, channel class and task classes) in a socket map of its own,
around a small WSGI app, ProbeApp. A proof connects to it, sends raw bytes,
and steps waitress's own loop until the answer it waits for has arrived or
the connection has ended: every part of waitress that the service relies on
(accepting, reading, parsing, the worker threads, writing, closing) runs as
it does in production.
"""

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from ...core.status_faults import ENTRY_FAULTS, Fault
from ...wsgi.environ import DELIVERY, Delivery, mark_fault, server_defers
from .delivery import Timers

LOOPBACK = "127.0.0.1"
# A safety net against a waitress that never answers: a proof that meets it
# fails. Every exchange normally ends in milliseconds.
EXCHANGE_SECONDS = 5.0
# The probe's body limit (waitress refuses a body of this many bytes or more).
PROBE_MAX_BODY = 1024
PROBE_CONNECTIONS = 100
_QUIET_QUEUE = logging.Logger("simple_flask.probe_queue")
_QUIET_QUEUE.disabled = True
_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)", re.IGNORECASE)

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class ProbeApp:
    """A WSGI app: /hold waits until released, /big answers `big` bytes, /echo the request
    body, /late?wait=ms&stall=ms leaves late; a fault's name asks for it; every path is
    recorded."""

    def __init__(self, big: int):
        self.big = big
        self.served: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.served.append(path)
        body = path.encode()
        if path == "/hold":
            self.holding.set()
            self.release.wait(EXCHANGE_SECONDS)
        elif path == "/big":
            body = b"b" * self.big
        elif path == "/echo":
            body = environ["wsgi.input"].read()
        elif path[1:] in ENTRY_FAULTS:
            # A server that enacts the fault sends none of this stand-in.
            mark_fault(environ, Fault(path[1:]))
            body = b"answered"
        elif path == "/late":
            wait, stall = (
                int(value.partition("=")[2]) for value in environ["QUERY_STRING"].split("&")
            )
            if server_defers():
                environ[DELIVERY] = Delivery(wait / 1000, stall / 1000)
            body = b"late"
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


class Ended(Exception):
    """The connection ended, cleanly (`reset` False) or with a reset, or is `still_open`."""

    def __init__(self, received: bytes, reset: bool, still_open: bool = False):
        super().__init__("still open" if still_open else "reset" if reset else "closed")
        self.received = received
        self.reset = reset
        self.still_open = still_open


def answers(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split `data` into complete (head, body) answers; a trailing partial one is left out."""
    found = []
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return found
        length = _LENGTH.search(head + b"\r\n")
        size = int(length.group(1)) if length else 0
        if head.startswith(b"HTTP/1.1 100 ") or len(rest) < size:
            if head.startswith(b"HTTP/1.1 100 "):
                found.append((head, b""))
                data = rest
                continue
            return found
        found.append((head, rest[:size]))
        data = rest[size:]


class ProbeServer:
    """A waitress server around ProbeApp with the given channel class, stepped by hand."""

    def __init__(self, channel_class: type[HTTPChannel], big: int, options: dict[str, object]):
        self.map: dict[int, object] = {}
        self.app = ProbeApp(big)
        # Its own limits: what is proven is how a limit is kept, whatever its value.
        settings = {
            **options,
            "host": LOOPBACK,
            "port": 0,
            "threads": 2,
            "max_request_body_size": PROBE_MAX_BODY,
            "inbuf_overflow": PROBE_MAX_BODY,
            # Room for every connection the proofs open, whatever the service's limit.
            "connection_limit": PROBE_CONNECTIONS,
        }
        settings.pop("listen", None)
        self.server = waitress.create_server(self.app, map=self.map, **settings)
        self.adj = self.server.adj
        # A proof may queue more requests than the probe has threads; that is
        # no news for the service's log.
        self.server.task_dispatcher.queue_logger = _QUIET_QUEUE  # type: ignore[attr-defined]
        self.listeners = [obj for obj in self.map.values() if isinstance(obj, BaseWSGIServer)]
        self.timers = Timers(self.listeners[0].pull_trigger)
        channel_class = type(channel_class.__name__, (channel_class,), {"timers": self.timers})
        for listener in self.listeners:
            listener.channel_class = channel_class
        self.channel_class = channel_class
        self.port = self.listeners[0].socket.getsockname()[1]
        self.clients: list[socket.socket] = []

    def step(self) -> None:
        """Run one round of the server's loop: accept, read, write, close as it would."""
        wasyncore.loop(timeout=self.timers.wait(0.002), use_poll=True, map=self.map, count=1)
        self.timers.run_due()

    def channels(self) -> list[HTTPChannel]:
        """Return the open connections, as waitress holds them."""
        return [obj for obj in list(self.map.values()) if isinstance(obj, HTTPChannel)]

    def connect(self, receive_buffer: int | None = None) -> tuple[socket.socket, HTTPChannel]:
        """Connect a client; return its socket and the channel waitress made for it."""
        client = socket.socket()
        self.clients.append(client)
        if receive_buffer:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        client.connect((LOOPBACK, self.port))
        client.setblocking(False)
        before = set(map(id, self.channels()))
        channel = self.wait_for(
            lambda: next((c for c in self.channels() if id(c) not in before), None)
        )
        if type(channel) is not self.channel_class:
            raise AssertionError(f"waitress accepted into {type(channel).__name__}, not ours")
        return client, channel

    def wait_for(self, condition: Callable[[], object]) -> object:
        """Step the loop until `condition()` is true; return its value."""
        deadline = time.monotonic() + EXCHANGE_SECONDS
        while not (value := condition()):
            if time.monotonic() > deadline:
                raise AssertionError("waitress did not get there in time")
            self.step()
        return value

    def read(self, client: socket.socket, done: Callable[[bytes], bool]) -> bytes:
        """Step the loop and read `client` until `done(received)`; raise Ended if it ends first."""
        received = b""
        deadline = time.monotonic() + EXCHANGE_SECONDS
        while not done(received):
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer in time; received {received[:200]!r}")
            self.step()
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                raise Ended(received, reset=True) from None
            if not chunk:
                raise Ended(received, reset=False)
            received += chunk
        return received

    def until_end(
        self, client: socket.socket, enough: Callable[[bytes], bool] = lambda received: False
    ) -> Ended:
        """Read `client` until its connection ends; return how it ended and what came first.

        Reading stops early when `enough(received)`, which the caller uses to
        tell an outcome that can no longer be the one it waits for: the
        return value then says the connection is still open.
        """
        try:
            received = self.read(client, enough)
        except Ended as ended:
            return ended
        return Ended(received, reset=False, still_open=True)

    def close(self) -> None:
        """Stop the worker threads and close every socket, as the drain does."""
        self.app.release.set()
        for client in self.clients:
            client.close()
        close_server(self.server, self.map, busy=False)


def close_server(server: object, socket_map: dict[int, object], busy: bool) -> None:
    """Stop `server`'s worker threads and close every socket of `socket_map`.

    Idle threads stop at once; a thread still running a request (`busy`) is
    left behind (they are daemon threads) rather than waited for.
    """
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=0 if busy else 1)  # type: ignore[attr-defined]
    for obj in list(socket_map.values()):
        with contextlib.suppress(OSError):
            obj.close()  # type: ignore[attr-defined]
    socket_map.clear()
