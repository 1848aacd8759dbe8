"""Every use of waitress internals, in one module: the graceful drain, waitress's errors,
the bounds a hostile client meets below the app, and the status service's faults.

waitress has no public drain API: its own shutdown waits a fixed 5 s for the
worker threads and then drops whatever they were doing, and the errors it
answers itself (a malformed request, a body over the limit) are plain text
without a request id or CORS headers. Nor does it bound what one connection
makes it hold: every request of a pipelined burst is queued and answered into
memory whether the client reads or not, empty lines before a request line are
read for ever, Content-Length beside Transfer-Encoding is let through, and a
body over the limit is read after a "100 Continue" before it is refused.
All of it is changed here through attributes that waitress 3.0 does not
document (docs/security.md lists the bounds). `check_compatible()` runs at
start-up and fails loudly when one of them is missing, and
tests/simple_flask/server/test_waitress_internals.py drives each of them
against a real server, so a waitress upgrade cannot silently break
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.trigger import trigger as Trigger
from waitress.utilities import BadRequest, RequestEntityTooLarge
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

logger = logging.getLogger("simple_flask")

SUPPORTED_MAJOR = 3
# Complete requests one connection may have waiting behind the one being
# answered. Pipelining clients keep a few in flight; waitress alone queues
# every request of a read (8 KiB holds hundreds of small ones) and answers
# them all into memory.
MAX_QUEUED_REQUESTS = 2
# Answer bytes one connection may have waiting to be sent before its next
# request is served. Past it the connection is read no further and its
# queued requests wait, without a worker thread, until the client reads.
MAX_BUFFERED_ANSWER = 256 * 1024
# Bytes of empty lines (and other white space) tolerated before a request
# line. RFC 9112 2.2 asks servers to ignore at least one CRLF there; a stream
# of them is refused with 400 rather than read for ever.
MAX_EMPTY_LINE_BYTES = 64
# After a stop is requested, a connection that was answered this recently
# stays open this long for the request its client may be sending, which is
# answered with Connection: close; closing it at once would reset that request.
LAST_CALL_SECONDS = 0.1

# What the server adds to its own error answers for a request's Origin and
# method: the CORS headers the app would add (see rest/cors.py).
ExtraHeaders = Callable[[str | None, str], Iterable[tuple[str, str]]]


def check_compatible() -> None:
    """Raise RuntimeError naming each missing piece unless waitress has every internal used here."""
    version = importlib.metadata.version("waitress")
    missing = []
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        missing.append(f"major version {SUPPORTED_MAJOR}")
    expected = {
        HTTPChannel: (
            "request",
            "will_close",
            "close_when_flushed",
            "total_outbufs_len",
            "error_task_class",
            "parser_class",
            "readable",
            "handle_read",
            "handle_write",
            "handle_close",
            "received",
            "service",
            "send_continue",
            "sent_continue",
            "requests_lock",
            "outbuf_lock",
            "last_activity",
            "connected",
            "server",
        ),
        HTTPRequestParser: (
            "headers_finished",
            "completed",
            "error",
            "empty",
            "expect_continue",
            "parse_header",
            "received",
            "chunked",
            "headers",
            "version",
        ),
        BaseWSGIServer: ("channel_class", "pull_trigger", "accepting", "add_task"),
        ErrorTask: ("execute", "set_close_on_finish", "write", "content_length", "status"),
        wasyncore.dispatcher: ("close", "_map", "socket"),
    }
    # Methods overridden here that call waitress's own: they must be the
    # class's own, not ones inherited from wasyncore.
    own = {
        HTTPChannel: (
            "readable",
            "handle_read",
            "handle_write",
            "received",
            "service",
            "send_continue",
        ),
        HTTPRequestParser: ("parse_header", "received"),
    }
    for owner, names in expected.items():
        for name in names:
            # _map is set in __init__; its name is in the code that sets it.
            found = hasattr(owner, name) or name in owner.__init__.__code__.co_names
            if name in own.get(owner, ()):
                found = name in vars(owner)
            if not found:
                missing.append(f"{owner.__module__}.{owner.__qualname__}.{name}")
    for name in ("requests",):
        if name not in HTTPChannel.__init__.__code__.co_names:
            missing.append(f"waitress.channel.HTTPChannel.{name}")
    # The Content-Length / Transfer-Encoding check relies on waitress popping
    # Transfer-Encoding for HTTP/1.1 and setting `chunked`, in parse_header.
    parse_header = getattr(HTTPRequestParser, "parse_header", None)
    constants = parse_header.__code__.co_consts if parse_header else ()
    if parse_header and not {"TRANSFER_ENCODING", "CONTENT_LENGTH"} <= set(constants):
        missing.append("waitress.parser.HTTPRequestParser.parse_header (framing headers)")
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


class FramingParser(HTTPRequestParser):
    """waitress's request parser, refusing the framing RFC 9112 6.1 and 6.3 call ambiguous.

    A request with both Content-Length and Transfer-Encoding is refused with
    400 and its connection closed, which RFC 9112 6.3 allows, rather than
    read as chunked: a proxy in front may have framed it by Content-Length,
    and then whatever the two disagree on would be read as a second request
    (request smuggling). Transfer-Encoding in anything but HTTP/1.1 is
    refused the same way (RFC 9112 6.1): waitress would ignore it and serve
    the chunks as requests.
    """

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        # waitress pops Transfer-Encoding for HTTP/1.1 (and sets `chunked`)
        # and leaves it in place for any other version.
        if self.version != "1.1" and "TRANSFER_ENCODING" in self.headers:
            raise ParsingError(f"Transfer-Encoding is not allowed in HTTP/{self.version}")
        if self.chunked and "CONTENT_LENGTH" in self.headers:
            raise ParsingError("Content-Length and Transfer-Encoding are not allowed together")


def _refused(adj, reason: str) -> HTTPRequestParser:
    """Return a completed request that waitress answers with 400 `reason`."""
    request = FramingParser(adj)
    request.error = BadRequest(reason)
    request.completed = True
    return request


def _problem_detail(error, adj) -> str:
    """Return the detail of the problem+json body for waitress's `error`."""
    if isinstance(error, RequestEntityTooLarge):
        # waitress refuses a body of exactly max_request_body_size bytes, so
        # serving.py sets one more than the largest body it accepts.
        return f"The request body exceeds the limit of {adj.max_request_body_size - 1} bytes."
    return str(error.body)


def _problem_channel(
    on_error: Callable[[str], None], extra_headers: ExtraHeaders | None = None
) -> type[HTTPChannel]:
    """Return a channel class that bounds what one client makes it hold, and answers
    waitress's own errors as problem+json with the app's CORS headers."""

    class ProblemErrorTask(ErrorTask):
        """An error answered before the request reaches the app, in the app's own format."""

        def execute(self) -> None:
            request = self.request
            error = request.error
            code = error.code
            rid = request_id(request.headers.get("X_REQUEST_ID"))
            method = getattr(request, "command", "") or ""
            body = problem_body(code, _problem_detail(error, self.channel.adj)).encode()
            self.status = status_line(code)
            self.response_headers.extend(
                [("Content-Type", PROBLEM_MIMETYPE), NOSNIFF, (REQUEST_ID_HEADER, rid)]
            )
            if extra_headers is not None:
                try:
                    self.response_headers.extend(
                        extra_headers(request.headers.get("ORIGIN"), method or "GET")
                    )
                except Exception:
                    # The answer goes out without them rather than not at all.
                    logger.exception("CORS headers for an error answer failed")
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            on_error(
                access_line(
                    self.start_time,
                    method,
                    logged_path("", getattr(request, "path", "") or ""),
                    code,
                    (time.time() - self.start_time) * 1000,
                    len(body),
                    self.channel.addr[0] if self.channel.addr else None,
                    rid,
                )
            )

    class ProblemChannel(HTTPChannel):
        """waitress's channel, bounded: a short request queue, capped answer bytes, few empty lines.

        waitress reads only while nothing is queued and nothing waits to be
        sent, but parses every request of what it read at once. Here bytes
        past MAX_QUEUED_REQUESTS complete requests are held unparsed (at most
        one read) and parsed as the queue empties; and a request is not
        served while more than MAX_BUFFERED_ANSWER bytes of answers wait to
        be sent: the worker thread returns it and the main loop queues it
        again once the client has read (see `parked`).
        """

        error_task_class = ProblemErrorTask
        parser_class = FramingParser
        # Bytes read but not parsed, waiting for room in the request queue.
        held = b""
        # White space read since the last request line.
        blank_bytes = 0
        # The last read held nothing but white space (see handle_read).
        only_blank = False
        # A worker thread gave the first queued request back: too many answer
        # bytes wait to be sent. The main loop queues it again (handle_write).
        parked = False
        # A stop was requested: every request read from now on is answered
        # with Connection: close.
        last_call = False

        def readable(self) -> bool:
            return not self.held and super().readable()

        def handle_read(self) -> None:
            before = self.last_activity
            self.only_blank = False
            super().handle_read()
            if self.only_blank:
                # Empty lines are not activity: the idle timeout keeps running.
                self.last_activity = before

        def received(self, data: bytes) -> bool:
            """Parse `data` into requests, as waitress does, within the bounds above."""
            with self.requests_lock:
                if self.will_close or self.close_when_flushed:
                    return False
                data = self.held + data
                self.held = b""
                only_blank = True
                while data:
                    if self.request is None:
                        if len(self.requests) > MAX_QUEUED_REQUESTS:
                            self.held = data
                            break
                        stripped = data.lstrip()
                        self.blank_bytes += len(data) - len(stripped)
                        if self.blank_bytes > MAX_EMPTY_LINE_BYTES:
                            self._queue(
                                _refused(self.adj, "Too many empty lines before the request line")
                            )
                            break
                        data = stripped
                        if not data:
                            break
                        self.blank_bytes = 0
                        self.request = self.parser_class(self.adj)
                    only_blank = False
                    request = self.request
                    consumed = request.received(data)
                    if (
                        request.expect_continue
                        and request.headers_finished
                        and request.error is None
                        and not self.requests
                        and not self.sent_continue
                    ):
                        # A request refused on its headers (a body over the
                        # limit) gets its answer, not a 100 Continue.
                        self.send_continue()
                    if request.completed:
                        self.sent_continue = False
                        self.request = None
                        if not request.empty:
                            self._queue(request)
                        if request.error is not None:
                            # The connection closes after the error: what
                            # follows is not read.
                            break
                    if consumed >= len(data):
                        break
                    data = data[consumed:]
                self.only_blank = only_blank
            return True

        def _queue(self, request: HTTPRequestParser) -> None:
            """Queue a complete request (requests_lock held); start serving if it is first."""
            if self.last_call:
                request.headers["CONNECTION"] = "close"
            self.requests.append(request)
            if len(self.requests) == 1:
                self.server.add_task(self)

        def service(self) -> None:
            with self.outbuf_lock:
                if self.connected and self.total_outbufs_len > MAX_BUFFERED_ANSWER:
                    # Give the worker thread back; handle_write queues the
                    # request again once the client has read.
                    self.parked = True
                    return
            super().service()
            if self.held and self.connected:
                # The queue has room again for the requests held unparsed.
                self.received(b"")

        def handle_write(self) -> None:
            super().handle_write()
            if self.parked:
                with self.outbuf_lock:
                    if (
                        self.parked
                        and self.connected
                        and self.total_outbufs_len <= MAX_BUFFERED_ANSWER
                    ):
                        self.parked = False
                        self.server.add_task(self)

        def begin_last_call(self) -> None:
            """Answer every request from now on with Connection: close."""
            with self.requests_lock:
                self.last_call = True
                # Those queued whose answer has not started yet close it too;
                # one already under way keeps its header and is followed by
                # the LAST_CALL_SECONDS wait.
                for request in self.requests:
                    request.headers["CONNECTION"] = "close"

        def stuck(self, cutoff: float) -> bool:
            """Tell whether this connection's client has read nothing since `cutoff`.

            waitress's idle timeout skips connections with queued requests
            (here: parked ones) and closes others by waiting until they can
            be written to, which a client that never reads never allows.
            """
            if self.last_activity >= cutoff:
                return False
            return self.parked or (not self.requests and self.total_outbufs_len > 0)

    return ProblemChannel


def pending_input(channel: HTTPChannel) -> bool | None:
    """Tell whether the client's next bytes have arrived; None if it closed its end."""
    try:
        peeked = channel.socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return None
    return True if peeked else None


def _ignore(line: str) -> None:
    pass


class GracefulServer:
    """A waitress server whose main loop runs until asked to stop, then drains its connections."""

    def __init__(
        self,
        app: Callable,
        access_log: bool = True,
        extra_headers: ExtraHeaders | None = None,
        **options,
    ):
        """Create the server; `extra_headers(origin, method)` adds headers to waitress's errors."""
        check_compatible()
        self.server = waitress.create_server(app, **options)
        # One listening socket gives a TcpWSGIServer (map in _map), several a
        # MultiSocketServer (map in map); both share one map of every socket.
        self._map: dict = getattr(self.server, "map", None) or self.server._map
        self._adj = self.server.adj
        channel = fault_channel(
            _problem_channel(write_line if access_log else _ignore, extra_headers)
        )
        for listener in self.listeners():
            listener.channel_class = channel
        self._stopping = False
        self._hurry = False
        self._next_sweep = 0.0

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
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + self._adj.cleanup_interval
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Close the connections whose client has read nothing for the idle timeout.

        waitress's own idle check leaves them open (see ProblemChannel.stuck),
        holding their answers in memory.
        """
        cutoff = now - self._adj.channel_timeout
        for channel in self.channels():
            if channel.stuck(cutoff):
                channel.handle_close()

    def serve(self, grace: float) -> DrainReport:
        """Serve until request_stop(), then drain for up to `grace` seconds and close everything."""
        while not self._stopping:
            self._step(self._adj.asyncore_loop_timeout)
        return self.drain(grace)

    def drain(self, grace: float) -> DrainReport:
        """Stop accepting, let requests in flight finish for up to `grace` seconds, close all.

        Every answer from now on carries Connection: close. A connection
        whose next request has arrived (or, answered within the last
        LAST_CALL_SECONDS, may be arriving) is read and answered; the others
        are closed at once, since closing one with a request in its receive
        buffer would answer that request with a reset.
        """
        started = time.monotonic()
        deadline = started + grace
        for listener in self.listeners():
            # The dispatcher's own close, not the server's, which would also
            # close the trigger that wakes this loop when a response is ready.
            wasyncore.dispatcher.close(listener)
        for channel in self.channels():
            channel.begin_last_call()
        in_flight = sum(1 for channel in self.channels() if _in_flight(channel))
        while True:
            busy = 0
            waiting = 0
            now = time.time()
            next_look = self._adj.asyncore_loop_timeout
            for channel in self.channels():
                if _in_flight(channel):
                    busy += 1
                elif channel.will_close or channel.close_when_flushed:
                    continue
                elif (arrived := pending_input(channel)) is None:
                    # The client has closed its end.
                    channel.will_close = True
                    continue
                elif arrived:
                    # More of a request has arrived: it is read and answered.
                    waiting += 1
                elif channel.request is None and now - channel.last_activity < LAST_CALL_SECONDS:
                    waiting += 1
                    next_look = min(next_look, channel.last_activity + LAST_CALL_SECONDS - now)
                else:
                    # Idle keep-alive connections and half-sent requests are
                    # closed now; a keep-alive client retries on a new connection.
                    channel.will_close = True
            remaining = deadline - time.monotonic()
            if not (busy or waiting) or remaining <= 0 or self._hurry:
                break
            self._step(max(0.005, min(remaining, next_look)))
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
    service = getattr(HTTPChannel, "service", None)
    if service is None or "close_on_finish" not in service.__code__.co_names:
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
