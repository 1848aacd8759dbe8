"""ProblemChannel.received, a copy of waitress's HTTPChannel.received with bounds, held to it.

Within the bounds (at most three requests queued, a few empty lines, no
ambiguous framing, nothing after an error) both must make the same requests
of the same bytes however they arrive: the same method, path, headers, body
and error, the same tasks handed to the server, the same bytes sent back
(100 Continue). This runs on every waitress of the test matrix, so a
release that changes its own received() is caught here.
"""

import socket

import pytest
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel

from simple_flask.server.waitress_internals.channel import problem_channel

HOST = b"Host: a\r\n"
STREAMS = {
    "get": b"GET /a?b=1 HTTP/1.1\r\n" + HOST + b"\r\n",
    "http/1.0": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + HOST + b"\r\nGET /2 HTTP/1.1\r\n" + HOST + b"\r\n",
    "three": b"".join(b"GET /%d HTTP/1.1\r\n" % n + HOST + b"\r\n" for n in range(3)),
    "post": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello",
    "chunked": b"POST /c HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
    b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
    "empty lines first": b"\r\n\r\n" + b"GET / HTTP/1.1\r\n" + HOST + b"\r\n",
    "empty line between": b"GET /1 HTTP/1.1\r\n"
    + HOST
    + b"\r\n\r\nGET /2 HTTP/1.1\r\n"
    + HOST
    + b"\r\n",
    "folded and repeated": b"GET / HTTP/1.1\r\n"
    + HOST
    + b"X-A: 1\r\nX-A: 2\r\nX-B: one\r\n two\r\n\r\n",
    "expect": b"POST /e HTTP/1.1\r\n"
    + HOST
    + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    "bad request line": b"GET\x01 / HTTP/1.1\r\n\r\n",
    "body over the limit": b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 999\r\n\r\n",
    "head over the limit": b"GET / HTTP/1.1\r\n" + HOST + b"X: " + b"x" * 600 + b"\r\n\r\n",
    "unknown coding": b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n",
    "partial body": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 9\r\n\r\nhalf",
}
# Streams fed in two parts with the requests of the first served in between,
# as a worker thread would: a second 100 Continue needs the first one's latch reset.
SERVED_BETWEEN = {
    "expect twice": (
        b"POST /1 HTTP/1.1\r\n" + HOST + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        b"POST /2 HTTP/1.1\r\n" + HOST + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    ),
}
ADJ = Adjustments(max_request_body_size=100, max_request_header_size=512)


class Recorder:
    """Stands in for the server a channel belongs to, counting the tasks it is handed."""

    def __init__(self):
        self.adj = ADJ
        self.tasks = 0
        self.active_channels = {}

    def add_task(self, channel):
        self.tasks += 1

    def pull_trigger(self):
        pass


SERVE = None


def outcome(channel_class, chunks):
    """Feed `chunks` to a new channel of `channel_class`; return what it made of them.

    A SERVE among the chunks takes the queued requests off, as serving them would.
    """
    ours, peer = socket.socketpair()
    server = Recorder()
    channel = channel_class(server, ours, ("127.0.0.1", 1), ADJ, map={})
    served = []
    try:
        returned = []
        for chunk in chunks:
            if chunk is SERVE:
                served += channel.requests
                channel.requests = []
            else:
                returned.append(channel.received(chunk))
        peer.setblocking(False)
        try:
            sent = peer.recv(65536)
        except BlockingIOError:
            sent = b""
        requests = [
            (
                getattr(request, "command", None),
                getattr(request, "path", None),
                getattr(request, "query", None),
                request.version,
                request.headers,
                request.get_body_stream().read(),
                type(request.error).__name__ if request.error else None,
            )
            for request in served + channel.requests
        ]
        partial = channel.request
        in_progress = partial is not None and partial.headers_finished
        return returned, requests, server.tasks, sent, in_progress
    finally:
        channel.del_channel({})
        ours.close()
        peer.close()


def splits(data):
    """Every way the tests feed `data`: whole, byte by byte, and cut in two at each offset."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]


OURS = problem_channel(lambda line: None)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_the_copy_makes_what_waitress_makes_of_every_split(name):
    data = STREAMS[name]
    checked = 0
    for chunks in splits(data):
        theirs = outcome(HTTPChannel, chunks)
        assert outcome(OURS, chunks) == theirs, (name, [len(chunk) for chunk in chunks])
        checked += 1
    assert checked == len(data) + 1


@pytest.mark.parametrize("name", sorted(SERVED_BETWEEN))
def test_the_copy_makes_what_waitress_makes_when_requests_are_served_between(name):
    first, second = SERVED_BETWEEN[name]
    for chunks in splits(second):
        fed = [first, SERVE, *chunks]
        assert outcome(OURS, fed) == outcome(HTTPChannel, fed), [len(chunk) for chunk in chunks]
    assert outcome(HTTPChannel, [first, SERVE, second])[3].count(b"100 Continue") == 2


def test_the_streams_reach_every_outcome():
    """The table means something: requests, errors, a 100 Continue and a partial body."""
    found = {name: outcome(HTTPChannel, [data]) for name, data in STREAMS.items()}
    assert len(found["three"][1]) == 3
    assert found["post"][1][0][5] == b"hello" and found["chunked"][1][0][5] == b"hello"
    assert {found[name][1][0][6] for name in ("bad request line", "head over the limit")} == {
        "BadRequest",
        "RequestHeaderFieldsTooLarge",
    }
    assert found["body over the limit"][1][0][6] == "RequestEntityTooLarge"
    assert found["unknown coding"][1][0][6] == "ServerNotImplemented"
    assert found["expect"][3] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert found["partial body"][1:] == ([], 0, b"", True)
    assert found["folded and repeated"][1][0][4]["X_A"] == "1, 2"
