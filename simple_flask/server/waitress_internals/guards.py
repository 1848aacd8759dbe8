"""The proofs of the guards the security notes promise, each run on a real server at start-up.

Each sends raw bytes to a ProbeServer (probe.py) built like the service's and
checks what a client sees: the answers, their order, the end of the
connection, and, for the per-connection bounds, how much of a burst waitress
holds. A guard that fails stops the start (proofs.py).
"""

import socket
import time
from collections.abc import Callable

from .channel import MAX_EMPTY_LINE_BYTES, MAX_QUEUED_REQUESTS
from .probe import ProbeServer, answers

HOST = b"Host: probe\r\n"
# The probe's answer cap: small, so that a few KiB of answers cross it.
PROBE_ANSWER_CAP = 16 * 1024
PROBE_BIG = 4 * PROBE_ANSWER_CAP
# Heads whose framing is ambiguous, each followed by a request it would hide.
AMBIGUOUS = (
    b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\ncontent-length: 5\r\n\r\n",
)
SMUGGLED = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + HOST + b"\r\n"


def request_of(path: str, extra: bytes = b"") -> bytes:
    """Return a GET of `path` as a client sends it."""
    return f"GET {path} HTTP/1.1\r\n".encode() + HOST + extra + b"\r\n"


def codes_of(data: bytes) -> list[int]:
    """Return the status code of each complete answer in `data`."""
    return [int(head.split(b" ", 2)[1]) for head, _ in answers(data)]


def _not_only(code: int) -> Callable[[bytes], bool]:
    """Tell, of what was received, that it is more than one answer `code` alone."""
    return lambda received: (
        codes_of(received)[:1] not in ([], [code]) or len(codes_of(received)) > 1
    )


def _refused_with(probe: ProbeServer, client: socket.socket, code: int) -> str | None:
    """None when `client` gets one answer `code` and then the end of the connection."""
    ended = probe.until_end(client, _not_only(code))
    found = answers(ended.received)
    if codes_of(ended.received) != [code] or ended.still_open:
        return f"got {ended.received[:60]!r}, and the connection is {ended}"
    if b"application/problem+json" not in found[0][0]:
        return f"the {code} is not problem+json"
    return None


def prove_framing(probe: ProbeServer) -> str | None:
    """Ambiguous framing gets exactly one answer, a problem+json 400, then the connection closes."""
    for head in AMBIGUOUS:
        client, _ = probe.connect()
        client.sendall(head + SMUGGLED)
        why = _refused_with(probe, client, 400)
        if why is not None:
            return f"{head.splitlines()[0]!r} with {head.count(b':')} fields: {why}"
    if "/smuggled" in probe.app.served:
        return "a request behind ambiguous framing was served"
    client, _ = probe.connect()
    client.sendall(
        b"POST /echo HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    data = probe.read(client, lambda received: bool(answers(received)))
    if answers(data) != [(answers(data)[0][0], b"hello")]:
        return f"a chunked request was not read: {data[:80]!r}"
    return None


def prove_empty_lines(probe: ProbeServer) -> str | None:
    """One CRLF before a request line is ignored; more than the limit gets 400 and a close."""
    client, _ = probe.connect()
    client.sendall(b"\r\n" + request_of("/ok"))
    if codes_of(probe.read(client, lambda received: bool(answers(received)))) != [200]:
        return "a request after one empty line was not answered"
    client, _ = probe.connect()
    client.sendall(b"\r\n" * (MAX_EMPTY_LINE_BYTES // 2 + 1))
    why = _refused_with(probe, client, 400)
    return None if why is None else f"a stream of empty lines: {why}"


def prove_expect(probe: ProbeServer) -> str | None:
    """`Expect: 100-continue` gets 100 Continue within the limit, and over it 413 without one."""
    expect = b"Expect: 100-continue\r\n"
    client, _ = probe.connect()
    limit = probe.adj.max_request_body_size
    client.sendall(
        b"POST /echo HTTP/1.1\r\n" + HOST + expect + b"Content-Length: %d\r\n\r\n" % limit
    )
    why = _refused_with(probe, client, 413)
    if why is not None:
        return f"a body over the limit was not refused with 413 alone: {why}"
    client, _ = probe.connect()
    client.sendall(b"POST /echo HTTP/1.1\r\n" + HOST + expect + b"Content-Length: 5\r\n\r\n")
    if codes_of(probe.read(client, lambda received: bool(answers(received)))) != [100]:
        return "a body within the limit got no 100 Continue"
    client.sendall(b"hello")
    data = probe.read(client, lambda received: bool(answers(received)))
    if answers(data)[0][1] != b"hello":
        return "the body sent after 100 Continue was not read"
    return None


def prove_queue(probe: ProbeServer) -> str | None:
    """A pipelined burst is parsed a few requests ahead only, and answered in order."""
    paths = ["/hold", *(f"/n{number}" for number in range(6))]
    client, channel = probe.connect()
    probe.app.holding.clear()
    probe.app.release.clear()
    client.sendall(b"".join(request_of(path) for path in paths))
    probe.wait_for(probe.app.holding.is_set)
    parsed = len(channel.requests)
    probe.app.release.set()
    if parsed > MAX_QUEUED_REQUESTS + 1:
        return f"{parsed} requests of a burst were parsed at once"
    data = probe.read(client, lambda received: len(answers(received)) == len(paths))
    if [body for _, body in answers(data)] != [path.encode() for path in paths]:
        return "the requests of a burst were not answered in order"
    return None


def prove_answer_cap(probe: ProbeServer) -> str | None:
    """Answers a client does not read hold back its next request; reading lets it through."""
    client, channel = probe.connect(receive_buffer=4096)
    channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    served = len(probe.app.served)
    client.sendall(request_of("/big") * 3)
    probe.wait_for(lambda: channel.parked)
    if len(probe.app.served) - served != 1:
        return "a request was served while the answer before it waited"
    if not channel.stuck(time.time() + 1):
        return "a connection whose client reads nothing is not seen as stuck"
    # Larger buffers from now on: the client reads the rest in a few steps.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    size = 3 * PROBE_BIG
    data = probe.read(client, lambda received: len(received) >= size)
    if data.count(b"HTTP/1.1 200 OK") != 3:
        return "the requests held back were not answered once the client read"
    return None


def prove_drain(probe: ProbeServer) -> str | None:
    """A request in flight is seen as such, and after a stop an answer closes its connection."""
    client, channel = probe.connect()
    client.sendall(b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 10\r\n\r\nhello")
    probe.wait_for(lambda: channel.request is not None)
    if not channel.in_flight():
        return "a request whose body is arriving is not seen in flight"
    client.sendall(b"world")
    probe.read(client, lambda received: bool(answers(received)))
    probe.wait_for(lambda: not channel.in_flight())
    channel.begin_last_call()
    client.sendall(request_of("/ok"))
    ended = probe.until_end(client, lambda received: bool(answers(received)))
    received = ended.received
    if ended.still_open and b"\r\nConnection: close" in received:
        ended = probe.until_end(client)
        received += ended.received
    found = answers(received)
    if ended.still_open or len(found) != 1 or b"\r\nConnection: close" not in found[0][0]:
        return f"an answer after a stop did not close its connection: it is {ended}"
    return None


GUARDS: dict[str, Callable[[ProbeServer], str | None]] = {
    "ambiguous framing refused": prove_framing,
    "empty lines bounded": prove_empty_lines,
    "Expect: 100-continue over the limit refused": prove_expect,
    "requests parsed ahead bounded": prove_queue,
    "answer bytes held bounded": prove_answer_cap,
    "graceful drain": prove_drain,
}
