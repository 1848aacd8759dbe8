"""The start-up proofs of what the server leans on in waitress, each run on a real server.

Each proof sends raw bytes to a ProbeServer (probe.py) built like the
service's and checks the outcome a client sees. `serving_channel()` runs
them and returns the channel class the server may use:

- a guard that fails stops the start (simple_flask.core.proofs.UnprovenGuard):
  the framing refusals, the empty-line, Expect and per-connection bounds,
  the graceful drain (guards.py);
- faults the server answers itself that fail are switched off, with a
  warning: the app's stand-in answer (501) goes out instead;
- late answers without a worker thread that fail are switched off, with a
  warning: the app's worker thread waits, in a sleep slot, instead;
- accepting in batches (accept.py) that fails is switched off, with a
  warning: waitress accepts one connection a turn of its loop instead;
- response heads that build_head() would write differently are left to
  waitress (head.py), with a warning;
- a 431 whose Origin cannot be read from the head kept so far goes out
  without CORS headers, with a warning.
"""

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.utilities import RequestHeaderFieldsTooLarge

from ...core.proofs import Kind, holds
from .accept import batched
from .faults import MALFORMED, fault_channel, task_channel
from .guards import GUARDS, PROBE_ANSWER_CAP, PROBE_BIG, codes_of, request_of
from .head import head_mismatch
from .parser import FramingParser
from .probe import ProbeServer, answers

# Connections made at once to prove they are accepted together.
ACCEPT_PROBE = 8
# The head limit of the 431 proof's parser.
TOO_LARGE_PROBE = 1024


def prove_faults(probe: ProbeServer) -> str | None:
    """`reset` ends the connection with RST, `close` with FIN after the answer before it;
    `garbage`, `bad_chunk` and `cut_head` send their malformed bytes, then FIN.

    None sends a byte of the app's answer. (A reset may overtake an earlier
    answer the client has not read yet, so it is asked for alone.)
    """
    for requests, reset, bodies in (
        (request_of("/reset"), True, []),
        (request_of("/ok") + request_of("/close"), False, [b"/ok"]),
    ):
        client, _ = probe.connect()
        client.sendall(requests)
        ended = probe.until_end(client)
        if ended.reset is not reset or [body for _, body in answers(ended.received)] != bodies:
            name = "reset" if reset else "close"
            return f"{name} left the connection {ended}: {ended.received[-40:]!r}"
    for fault, malformed in MALFORMED.items():
        client, _ = probe.connect()
        client.sendall(request_of(f"/{fault}"))
        ended = probe.until_end(client)
        if ended.reset or ended.received != malformed:
            return f"{fault} sent {ended.received[:60]!r} and the connection {ended}"
    return None


def _silent(client: socket.socket) -> bool:
    """Tell whether nothing has arrived for `client` (so far), not even its end."""
    try:
        client.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    return False


def prove_late(probe: ProbeServer) -> str | None:
    """Late answers hold no worker thread, leave when due, and keep their connection's order.

    More answers than the probe has worker threads wait (a minute) while
    another request is answered; a stalled answer's head comes at once and
    its body later; an answer and the one after it on its connection come
    in order, the first no sooner than due.
    """
    waiting = []
    for _ in range(int(probe.adj.threads) + 1):
        client, _ = probe.connect()
        client.sendall(request_of("/late?wait=60000&stall=0"))
        waiting.append(client)
    stalled, _ = probe.connect()
    stalled.sendall(request_of("/late?wait=0&stall=60000"))
    head = probe.read(stalled, lambda received: b"\r\n\r\n" in received)
    client, _ = probe.connect()
    client.sendall(request_of("/ok"))
    if codes_of(probe.read(client, lambda received: bool(answers(received)))) != [200]:
        return "a request was not answered while late answers waited"
    if not all(_silent(late) for late in waiting) or answers(head):
        return "a late answer, or a stalled answer's body, left before it was due"
    began = time.monotonic()
    client, _ = probe.connect()
    client.sendall(request_of("/late?wait=10&stall=0") + request_of("/late?wait=0&stall=10"))
    data = probe.read(client, lambda received: len(answers(received)) == 2)
    if [body for _, body in answers(data)] != [b"late", b"late"]:
        return f"two late answers on one connection came as {data[-60:]!r}"
    if time.monotonic() - began < 0.01:
        return "a late answer left before it was due"
    return None


def prove_accept(probe: ProbeServer) -> str | None:
    """Connections that wait together are accepted in one turn of the loop, and served."""
    batched(probe.listeners[0])
    clients = []
    for _ in range(ACCEPT_PROBE):
        # The kernel completes the handshake; the server has not accepted yet.
        client = socket.create_connection(probe.listeners[0].socket.getsockname()[:2])
        client.setblocking(False)
        probe.clients.append(client)
        clients.append(client)
    before = len(probe.channels())
    probe.wait_for(lambda: len(probe.channels()) > before)
    accepted = len(probe.channels()) - before
    if accepted < ACCEPT_PROBE:
        return f"one turn of the loop accepted {accepted} of {ACCEPT_PROBE} waiting connections"
    for client in clients:
        # One at a time: more than the probe's threads at once would be queued, and logged.
        client.sendall(request_of("/ok"))
        if codes_of(probe.read(client, lambda received: bool(answers(received)))) != [200]:
            return "a connection accepted in a batch was not served"
    return None


def prove_too_large_origin() -> str | None:
    """A head over the limit is refused 431 with the Origin it named (for its CORS headers)."""
    parser = FramingParser(Adjustments(max_request_header_size=TOO_LARGE_PROBE))
    head = b"GET / HTTP/1.1\r\nOrigin: https://a.example\r\nX-Big: " + b"b" * TOO_LARGE_PROBE
    for start in range(0, len(head), 256):
        # In pieces, as reads bring them: the head kept so far holds the Origin.
        parser.received(head[start : start + 256])
        if parser.completed:
            break
    if not isinstance(parser.error, RequestHeaderFieldsTooLarge):
        return f"the head over the limit ended as {parser.error!r}"
    if parser.headers.get("ORIGIN") != "https://a.example":
        return f"the 431's request names the Origin {parser.headers.get('ORIGIN')!r}"
    return None


def _quiet(line: str) -> None:
    pass


@contextlib.contextmanager
def _probes(options: dict[str, object]) -> Iterator[Callable[[type[HTTPChannel]], ProbeServer]]:
    """Yield f(channel class): a ProbeServer for it, built on first use; close them all after."""
    made: dict[type[HTTPChannel], ProbeServer] = {}

    def probe(channel: type[HTTPChannel]) -> ProbeServer:
        if channel not in made:
            # The probe's answer cap is small, so that a few answers cross it,
            # and its error answers are not logged as the service's.
            quiet = type(
                "QuietErrorTask", (channel.error_task_class,), {"log": staticmethod(_quiet)}
            )
            capped = type(
                channel.__name__,
                (channel,),
                {"answer_cap": PROBE_ANSWER_CAP, "error_task_class": quiet},
            )
            made[channel] = ProbeServer(capped, PROBE_BIG, options)
        return made[channel]

    try:
        yield probe
    finally:
        for server in made.values():
            server.close()


def serving_channel(
    base: type[HTTPChannel], options: dict[str, object]
) -> tuple[type[HTTPChannel], bool]:
    """Return the channel class to serve with, built on `base` from what the proofs allow,
    and whether the listener may accept in batches (accept.py).

    Raises UnprovenGuard when a guard does not hold. `options` are waitress's.
    """
    heads = holds("response heads", Kind.SHORTCUT, head_mismatch)
    with _probes(options) as probe:
        served = fault_channel(base, heads, defers=True)
        if not holds("connection faults", Kind.FEATURE, lambda: prove_faults(probe(served))):
            channel = task_channel(base, heads)
        elif holds(
            "late answers without a thread", Kind.FEATURE, lambda: prove_late(probe(served))
        ):
            channel = served
        else:
            channel = fault_channel(base, heads, defers=False)
        holds("431 answers name their Origin", Kind.FEATURE, prove_too_large_origin)
        # Proven on the listener the guards then run on: they hold with it.
        batches = holds("accepting in batches", Kind.FEATURE, lambda: prove_accept(probe(channel)))
        for name, proof in GUARDS.items():
            holds(name, Kind.GUARD, lambda proof=proof: proof(probe(channel)))  # type: ignore[misc]
    return channel, batches
