"""Every use of waitress internals, in one module: the graceful drain, waitress's errors, faults.

waitress has no public drain API: its own shutdown waits a fixed 5 s for the
worker threads and then drops whatever they were doing, and the errors it
answers itself (a malformed request, a body over the limit) are plain text
without a request id. Both are changed here through attributes that waitress
3.0 does not document. `check_compatible()` runs at start-up and fails loudly
when one of them is missing, and tests/simple_flask/server/test_waitress_internals.py drives each
of them against a real server, so a waitress upgrade cannot silently break
them; setup.py keeps waitress below its next major version. The status
service's connection faults (a reset or a close instead of an answer) are
enacted here too, in a section of their own at the end.
"""

import contextlib
import importlib.metadata
import inspect
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.trigger import trigger as Trigger
from waitress.utilities import logger as waitress_logger

from simple_flask_blueprint.core.http_facts import (
    NOSNIFF,
    PROBLEM_MIMETYPE,
    problem_body,
    status_line,
)

from ..core.status_faults import Fault
from ..wsgi.faults import connection_fault, faults_of
from ..wsgi.request_log import HEADER as REQUEST_ID_HEADER
from ..wsgi.request_log import access_line, logged_path, request_id, write_line

SUPPORTED_MAJOR = 3


def check_compatible() -> None:
    """Raise RuntimeError naming each missing piece unless waitress has every internal used here."""
    version = importlib.metadata.version("waitress")
    missing = []
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        missing.append(f"major version {SUPPORTED_MAJOR}")
    expected = {
        HTTPChannel: ("request", "will_close", "total_outbufs_len", "error_task_class"),
        HTTPRequestParser: ("headers_finished", "completed", "error"),
        BaseWSGIServer: ("channel_class", "pull_trigger", "accepting"),
        ErrorTask: ("execute", "set_close_on_finish", "write", "content_length", "status"),
        wasyncore.dispatcher: ("close", "_map"),
    }
    for owner, names in expected.items():
        for name in names:
            # _map is set in __init__; its name is in the code that sets it.
            found = hasattr(owner, name) or name in owner.__init__.__code__.co_names
            if not found:
                missing.append(f"{owner.__module__}.{owner.__qualname__}.{name}")
    if "requests" not in HTTPChannel.__init__.__code__.co_names:
        missing.append("waitress.channel.HTTPChannel.requests")
    for function, parameters in [
        (wasyncore.loop, ("timeout", "use_poll", "map", "count")),
        (ThreadedTaskDispatcher.shutdown, ("cancel_pending", "timeout")),
    ]:
        if not set(parameters) <= set(inspect.signature(function).parameters):
            missing.append(f"{function.__module__}.{function.__qualname__}{parameters}")
    missing.extend(missing_fault_internals())
    if missing:
        raise RuntimeError(
            f"waitress {version} lacks what graceful shutdown needs: {', '.join(missing)}"
        )


@dataclass(frozen=True)
class DrainReport:
    """What a drain did: requests in flight when it began, those cut off, and its length."""

    in_flight: int
    abandoned: int
    seconds: float


def _in_flight(channel: HTTPChannel) -> bool:
    """Tell whether `channel` holds a request that the client is owed an answer to."""
    if channel.requests or channel.total_outbufs_len:
        # A request is queued or running, or its answer is still being sent.
        return True
    partial = channel.request
    # A request whose headers have arrived and whose body is still arriving
    # counts; half a request line (or nothing) does not, so slow clients
    # cannot hold the shutdown.
    return partial is not None and partial.headers_finished and not partial.completed


def _problem_channel(on_error: Callable[[str], None]) -> type[HTTPChannel]:
    """Return a channel class that answers waitress's own errors as problem+json."""

    class ProblemErrorTask(ErrorTask):
        """An error answered before the request reaches the app, in the app's own format."""

        def execute(self) -> None:
            request = self.request
            error = request.error
            code = error.code
            rid = request_id(request.headers.get("X_REQUEST_ID"))
            body = problem_body(code, str(error.body)).encode()
            self.status = status_line(code)
            self.response_headers.extend(
                [("Content-Type", PROBLEM_MIMETYPE), NOSNIFF, (REQUEST_ID_HEADER, rid)]
            )
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            on_error(
                access_line(
                    self.start_time,
                    getattr(request, "command", "") or "",
                    logged_path("", getattr(request, "path", "") or ""),
                    code,
                    (time.time() - self.start_time) * 1000,
                    len(body),
                    self.channel.addr[0] if self.channel.addr else None,
                    rid,
                )
            )

    class ProblemChannel(HTTPChannel):
        error_task_class = ProblemErrorTask

    return ProblemChannel


def _ignore(line: str) -> None:
    pass


class GracefulServer:
    """A waitress server whose main loop runs until asked to stop, then drains its connections."""

    def __init__(self, app: Callable, access_log: bool = True, **options):
        check_compatible()
        self.server = waitress.create_server(app, **options)
        # One listening socket gives a TcpWSGIServer (map in _map), several a
        # MultiSocketServer (map in map); both share one map of every socket.
        self._map: dict = getattr(self.server, "map", None) or self.server._map
        self._adj = self.server.adj
        channel = fault_channel(_problem_channel(write_line if access_log else _ignore))
        for listener in self.listeners():
            listener.channel_class = channel
        self._stopping = False
        self._hurry = False

    def listeners(self) -> list[BaseWSGIServer]:
        """Return the listening sockets' dispatchers."""
        return [obj for obj in list(self._map.values()) if isinstance(obj, BaseWSGIServer)]

    def channels(self) -> list[HTTPChannel]:
        """Return the open client connections."""
        return [obj for obj in list(self._map.values()) if isinstance(obj, HTTPChannel)]

    def addresses(self) -> list[tuple[str, int]]:
        """Return the (host, port) pairs the server listens on."""
        return [(obj.effective_host, int(obj.effective_port)) for obj in self.listeners()]

    def request_stop(self) -> None:
        """Stop accepting and start draining; a second call ends the drain at once.

        Safe to call from a signal handler: it sets two flags and wakes the loop.
        """
        if self._stopping:
            self._hurry = True
        self._stopping = True
        for obj in list(self._map.values()):
            if isinstance(obj, Trigger):
                obj.pull_trigger()
                break

    def _step(self, timeout: float) -> None:
        wasyncore.loop(
            timeout=timeout, use_poll=self._adj.asyncore_use_poll, map=self._map, count=1
        )

    def serve(self, grace: float) -> DrainReport:
        """Serve until request_stop(), then drain for up to `grace` seconds and close everything."""
        while not self._stopping:
            self._step(self._adj.asyncore_loop_timeout)
        return self.drain(grace)

    def drain(self, grace: float) -> DrainReport:
        """Stop accepting, let requests in flight finish for up to `grace` seconds, close all."""
        started = time.monotonic()
        deadline = started + grace
        for listener in self.listeners():
            # The dispatcher's own close, not the server's, which would also
            # close the trigger that wakes this loop when a response is ready.
            wasyncore.dispatcher.close(listener)
        in_flight = sum(1 for channel in self.channels() if _in_flight(channel))
        while True:
            busy = 0
            for channel in self.channels():
                if _in_flight(channel):
                    busy += 1
                elif not channel.will_close:
                    # Idle keep-alive connections and half-sent requests are
                    # closed now; a keep-alive client retries on a new connection.
                    channel.will_close = True
            remaining = deadline - time.monotonic()
            if not busy or remaining <= 0 or self._hurry:
                break
            self._step(min(remaining, self._adj.asyncore_loop_timeout))
        for channel in self.channels():
            channel.handle_close()
        # Idle worker threads stop at once; one still running an abandoned
        # request is left behind (they are daemon threads) rather than waited for.
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=0 if busy else 1)
        wasyncore.close_all(self._map, ignore_all=True)
        return DrainReport(in_flight, busy, time.monotonic() - started)


# --- Faults on demand -------------------------------------------------------
#
# A request the app marked with a connection fault (simple_flask.wsgi.faults)
# gets no byte of the app's answer: the task drops every write, and the
# channel closes the connection once the task ends, after any earlier
# pipelined answer has gone out: cleanly (FIN) for `close`, with SO_LINGER
# {on, 0} first for `reset`, so the kernel sends RST. Kept apart from the
# drain above; GracefulServer only wraps its channel class in fault_channel().

# The internals the fault classes rely on, checked by check_compatible().
FAULT_INTERNALS: dict[type, tuple[str, ...]] = {
    WSGITask: ("execute", "write", "finish", "environ", "wrote_header", "logger"),
    HTTPChannel: ("task_class", "handle_close", "service"),
    wasyncore.dispatcher: ("socket", "close"),
}
# Faults whose answer is short of its Content-Length on purpose: waitress's
# warning about it ("application returned too few bytes") would be noise.
_QUIET_FAULTS = frozenset({Fault.RESET, Fault.CLOSE, Fault.TRUNCATE})
# A logger that drops every record, for the tasks of those requests.
_SILENT = logging.Logger("simple_flask.fault_task")
_SILENT.disabled = True
_LINGER_RESET = struct.pack("ii", 1, 0)


def missing_fault_internals() -> list[str]:
    """Return the waitress internals the fault classes use that are missing (none, normally)."""
    missing = [
        f"{owner.__module__}.{owner.__qualname__}.{name}"
        for owner, names in FAULT_INTERNALS.items()
        for name in names
        # An attribute set in __init__ has its name among that code's names.
        if not (hasattr(owner, name) or name in owner.__init__.__code__.co_names)
    ]
    # The channel closes the connection after a task that set close_on_finish.
    if "close_on_finish" not in HTTPChannel.service.__code__.co_names:
        missing.append("waitress.channel.HTTPChannel.service reading task.close_on_finish")
    return missing


class FaultTask(WSGITask):
    """A WSGI task that sends nothing for a request marked with a connection fault."""

    @property
    def logger(self) -> logging.Logger:
        environ = self.environ
        if environ is not None and _QUIET_FAULTS.intersection(faults_of(environ)):
            return _SILENT
        return waitress_logger

    def write(self, data: bytes) -> None:
        fault = connection_fault(self.environ) if self.environ is not None else None
        if fault is None:
            super().write(data)
            return
        # Neither the status line nor a body byte: the channel drops the
        # connection when the task ends.
        self.close_on_finish = True
        if fault is Fault.RESET:
            self.channel.reset_on_close = True


def fault_channel(base: type[HTTPChannel]) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` that enacts connection faults."""

    class FaultChannel(base):
        task_class = FaultTask
        reset_on_close = False

        def handle_close(self) -> None:
            sock = self.socket
            if self.reset_on_close and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            super().handle_close()

    return FaultChannel
