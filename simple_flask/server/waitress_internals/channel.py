"""waitress's channel, bounded per connection: a short request queue, capped answer bytes.

`ProblemChannel.received` is waitress 3.0's `HTTPChannel.received` with the
bounds added; tests/simple_flask/server/test_channel_received.py holds the
two to the same outcome for every request stream within the bounds, on each
waitress of the test matrix, and the start-up proofs (proofs.py) drive the
bounds themselves through a real server.
"""

import functools
import time
from collections.abc import Callable

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser

from ...wsgi.environ import Delivery
from .delivery import Timers, schedule
from .errors import ExtraHeaders, problem_error_task
from .parser import FramingParser, refused

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


def problem_channel(
    on_error: Callable[[str], None], extra_headers: ExtraHeaders | None = None
) -> type[HTTPChannel]:
    """Return a channel class that bounds what one client makes it hold, and answers
    waitress's own errors as problem+json with the app's CORS headers."""

    error_task = problem_error_task(on_error, extra_headers)

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

        error_task_class = error_task
        parser_class = FramingParser
        # Answer bytes that may wait to be sent before the next request is served.
        answer_cap = MAX_BUFFERED_ANSWER
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
        # Answers handed to the event loop to leave late, not all sent yet
        # (see deliver()): the next request waits for them, parked.
        delivering = 0
        # The event loop's Timers, set on the class the server serves with.
        timers: Timers

        def readable(self) -> bool:
            # HTTPChannel's methods are called directly rather than through
            # super(): these run for every request, and super() costs a lookup.
            return not self.held and HTTPChannel.readable(self)

        def handle_read(self) -> None:
            before = self.last_activity
            self.only_blank = False
            HTTPChannel.handle_read(self)
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
                                refused(self.adj, "Too many empty lines before the request line")
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
            # A late answer's wait counts from here.
            request.arrived = time.monotonic()
            self.requests.append(request)
            if len(self.requests) == 1:
                self.server.add_task(self)

        def service(self) -> None:
            # Only the main loop lowers total_outbufs_len while this thread
            # serves the connection, so a look without the lock that finds it
            # under the cap stays true; over it, the lock settles it.
            cap = self.answer_cap
            if self.total_outbufs_len > cap or self.delivering:
                with self.outbuf_lock:
                    if self.connected and (self.total_outbufs_len > cap or self.delivering):
                        # Give the worker thread back; the event loop queues the
                        # request again once the client has read and the late
                        # answers before it have left (handle_write, _send).
                        self.parked = True
                        return
            HTTPChannel.service(self)
            if self.held and self.connected:
                # The queue has room again for the requests held unparsed.
                self.received(b"")

        def handle_write(self) -> None:
            HTTPChannel.handle_write(self)
            if self.parked:
                with self.outbuf_lock:
                    self._resume()

        def _resume(self) -> None:
            """Queue the parked request again if nothing holds it back (outbuf_lock held)."""
            if (
                self.parked
                and self.connected
                and not self.delivering
                and self.total_outbufs_len <= self.answer_cap
            ):
                self.parked = False
                self.server.add_task(self)

        def deliver(
            self,
            pieces: list[bytes],
            delivery: Delivery,
            request: object,
            close: bool,
            after: Callable[[], None] | None = None,
        ) -> None:
            """Send the answer written as `pieces` when `delivery` says; close after if `close`.

            Called by the worker thread that wrote it; the event loop sends each
            piece, and calls `after` once the last has gone.
            """
            arrived = getattr(request, "arrived", time.monotonic())
            timed = list(schedule(pieces, delivery, arrived))
            with self.outbuf_lock:
                self.delivering += 1
                # Waiting for its own answer is not idling: the idle timeout
                # counts from when the last piece leaves.
                done = time.time() + timed[-1][0] - time.monotonic()
                self.last_activity = max(self.last_activity, done)
            timers = self.timers
            for number, (when, data) in enumerate(timed, start=1):
                last = number == len(timed)
                timers.add(when, functools.partial(self._send, data, last, close, after))

        def _send(
            self, data: bytes, last: bool, close: bool, after: Callable[[], None] | None
        ) -> None:
            """Send one piece of a late answer (in the event loop); after the last, go on."""
            if last and after is not None:
                after()
            if not self.connected:
                return
            with self.outbuf_lock:
                if data:
                    self.outbufs[-1].append(data)
                    self.current_outbuf_count += len(data)
                    self.total_outbufs_len += len(data)
                if last:
                    self.delivering -= 1
                    if not close:
                        self._resume()
                try:
                    self._flush_some()
                except OSError:
                    self.will_close = True
            if last and close:
                with self.requests_lock:
                    self.close_when_flushed = True
                    for request in self.requests:
                        request.close()
                    self.requests = []

        def begin_last_call(self) -> None:
            """Answer every request from now on with Connection: close."""
            with self.requests_lock:
                self.last_call = True
                # Those queued whose answer has not started yet close it too;
                # one already under way keeps its header and is followed by
                # the LAST_CALL_SECONDS wait.
                for request in self.requests:
                    request.headers["CONNECTION"] = "close"

        def in_flight(self) -> bool:
            """Tell whether this connection holds a request its client is owed an answer to."""
            if self.requests or self.total_outbufs_len or self.delivering:
                # A request is queued or running, or its answer is still being sent.
                return True
            partial = self.request
            # A request whose headers have arrived and whose body is still arriving
            # counts; half a request line (or nothing) does not, so slow clients
            # cannot hold the shutdown.
            return partial is not None and partial.headers_finished and not partial.completed

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
