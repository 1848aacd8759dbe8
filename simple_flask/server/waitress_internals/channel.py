"""waitress's channel, bounded per connection, and its own errors answered as problem+json."""

import logging
import time
from collections.abc import Callable, Iterable

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask
from waitress.utilities import BadRequest, RequestEntityTooLarge

from simple_flask_blueprint.core.http_facts import (
    NOSNIFF,
    PROBLEM_MIMETYPE,
    problem_body,
    status_line,
)

from ...wsgi.request_log import HEADER as REQUEST_ID_HEADER
from ...wsgi.request_log import access_line, logged_path, request_id

logger = logging.getLogger("simple_flask")

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
# What the server adds to its own error answers for a request's Origin and
# method: the CORS headers the app would add (see rest/cors.py).
ExtraHeaders = Callable[[str | None, str], Iterable[tuple[str, str]]]


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


def problem_channel(
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
            # Only the main loop lowers total_outbufs_len while this thread
            # serves the connection, so a look without the lock that finds it
            # under the cap stays true; over it, the lock settles it.
            if self.total_outbufs_len > MAX_BUFFERED_ANSWER:
                with self.outbuf_lock:
                    if self.connected and self.total_outbufs_len > MAX_BUFFERED_ANSWER:
                        # Give the worker thread back; handle_write queues the
                        # request again once the client has read.
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
