"""The server's main loop, and its graceful drain on SIGTERM or SIGINT."""

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.trigger import trigger as Trigger

from ...wsgi.request_log import write_line
from .channel import ExtraHeaders, problem_channel
from .compat import check_compatible
from .faults import fault_channel

# After a stop is requested, a connection that was answered this recently
# stays open this long for the request its client may be sending, which is
# answered with Connection: close; closing it at once would reset that request.
LAST_CALL_SECONDS = 0.1


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
            problem_channel(write_line if access_log else _ignore, extra_headers)
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
