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

from ...wsgi.access_line import write_line
from .accept import batched
from .channel import problem_channel
from .delivery import Timers
from .errors import ExtraHeaders
from .probe import close_server
from .proofs import serving_channel

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
        base = problem_channel(write_line if access_log else _ignore, extra_headers)
        # Proven before the port is taken: a guard that does not hold stops here.
        channel, batches = serving_channel(base, options)
        # The server's sockets go in a map of its own, which the drain walks.
        self._map: dict = {}
        self.server = waitress.create_server(app, map=self._map, **options)
        self._adj = self.server.adj
        listeners = self.listeners()
        # Late answers leave from this loop (delivery.py); adding one wakes it.
        self.timers = Timers(listeners[0].pull_trigger)
        # The channels find the timers on their class: an attribute added to
        # waitress's listener would cost every turn of the loop (see accept.py).
        channel = type(channel.__name__, (channel,), {"timers": self.timers})
        for listener in listeners:
            listener.channel_class = channel
            if batches:
                batched(listener)
        self._poll = wasyncore.poll2 if self._adj.asyncore_use_poll else wasyncore.poll
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
        return [obj.socket.getsockname()[:2] for obj in self.listeners()]

    def request_stop(self) -> None:
        """Stop accepting and start draining; a second call ends the drain at once.

        Safe to call from a signal handler: it sets two flags and wakes the loop.
        """
        if self._stopping:
            self._hurry = True
        self._stopping = True
        for obj in list(self._map.values()):
            if isinstance(obj, Trigger):
                try:
                    obj.pull_trigger()
                except OSError:
                    # The loop closed its trigger after the list was taken: it
                    # is ending already, with nothing left to wake.
                    pass
                break

    def _step(self, timeout: float) -> None:
        timers = self.timers
        # Most turns find no late answer waiting: the heap is looked at here,
        # which spares them two calls (2,000 machine instructions a request).
        if timers.heap:
            timeout = timers.wait(timeout)
        # One turn of waitress's loop: its poll function called directly, as
        # wasyncore.loop(count=1) would (two calls fewer, each turn).
        self._poll(timeout, self._map)
        if timers.heap:
            timers.run_due()
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
        # Counted before the listeners close: a client that sees its new
        # connection refused knows its request in flight was counted. (This
        # loop accepts connections, so none arrives meanwhile.)
        in_flight = sum(1 for channel in self.channels() if channel.in_flight())
        for listener in self.listeners():
            # The dispatcher's own close, not the server's, which would also
            # close the trigger that wakes this loop when a response is ready.
            wasyncore.dispatcher.close(listener)
        # Only then do answers say Connection: close: a client that reconnects
        # at once is refused, never queued on a listener about to close (which
        # would reset it after it sent its request).
        for channel in self.channels():
            channel.begin_last_call()
        while True:
            busy = 0
            waiting = 0
            now = time.time()
            next_look = self._adj.asyncore_loop_timeout
            for channel in self.channels():
                if channel.in_flight():
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
        close_server(self.server, self._map, busy=bool(busy))
        return DrainReport(in_flight, busy, time.monotonic() - started)
