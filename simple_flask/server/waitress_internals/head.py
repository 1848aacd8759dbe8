"""The response head (status line and headers) as waitress writes it, built for less.

waitress rebuilds every header name's capitalisation from its parts, sorts
the headers through a Python `lambda`, and formats the `Date` text anew for
each answer. build_head() writes the same bytes with each name's
capitalisation and each second's `Date` text worked out once, and sorts by
a C key. Measured with callgrind (docs/benchmarks.md): about 66,000 fewer
instructions a request on `/status/418` (ten headers, 460,500 to 394,200)
and 60,000 fewer on the greeting (nine), some 6,000 a header.

The rules are waitress 3.0's. head_mismatch() checks at start-up that this
waitress writes the same heads as build_head() for a set of sample answers,
and waitress's own method is left in place if it does not (proofs.py);
tests/simple_flask/server/test_head.py holds the two to each other over a
larger table.
"""

from collections.abc import Callable, Iterable
from operator import itemgetter
from types import SimpleNamespace

from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser
from waitress.task import Task, WSGITask
from waitress.utilities import build_http_date

from ...core.memo import BoundedMemo

# Header names kept with their capitalisation. Clients name headers too
# (?header=Name:Value), hence a bound.
NAMES_KEPT = 512
_names = BoundedMemo(NAMES_KEPT)
_by_name = itemgetter(0)
# The last second whose Date text was formatted, and the text: answers of
# one second share it. One tuple, replaced whole, so threads read a pair
# that belongs together.
_date = (-1, "")


def canonical_name(name: str) -> str:
    """Return `name` as waitress sends it: each dash-separated part capitalised."""
    canonical = "-".join([part.capitalize() for part in name.split("-")])
    _names.keep(name, canonical)
    return canonical


def http_date(second: int) -> str:
    """Return the Date text of `second` (seconds since the epoch); keep it for the next answer."""
    global _date
    text = build_http_date(second)
    _date = (second, text)
    return text


def build_head(task: Task) -> bytes:
    """Return the status line and headers of `task`'s answer, as waitress 3.0 builds them.

    Like waitress, it replaces the task's response_headers with what is sent
    and sets chunked_response and (through set_close_on_finish) close_on_finish.
    """
    version = task.version
    connection = task.request.headers.get("CONNECTION", "").lower()
    headers = []
    content_length = date = server = None
    names = _names
    for name, value in task.response_headers:
        # A dict read for a name seen before; no Python call.
        name = names.get(name) or canonical_name(name)
        if name == "Content-Length":
            if not task.has_body:
                continue
            content_length = value
        elif name == "Date":
            date = value
        elif name == "Server":
            server = value
        headers.append((name, value))
    # set_close_on_finish() below appends Connection: close to this list.
    task.response_headers = headers
    if content_length is None and task.content_length is not None and task.has_body:
        content_length = str(task.content_length)
        headers.append(("Content-Length", content_length))
    if version == "1.0":
        # HTTP/1.0 keeps a connection only when asked to and the length is known.
        if connection == "keep-alive" and content_length:
            headers.append(("Connection", "Keep-Alive"))
        else:
            task.set_close_on_finish()
    elif version == "1.1":
        if connection == "close":
            task.set_close_on_finish()
        if not content_length:
            if task.has_body:
                headers.append(("Transfer-Encoding", "chunked"))
                task.chunked_response = True
            if not task.close_on_finish:
                task.set_close_on_finish()
    else:
        raise AssertionError("neither HTTP/1.0 or HTTP/1.1")
    ident = task.channel.server.adj.ident
    if server:
        headers.append(("Via", ident or "waitress"))
    elif ident:
        headers.append(("Server", ident))
    if not date:
        second = int(task.start_time)
        known = _date
        headers.append(("Date", known[1] if known[0] == second else http_date(second)))
    # A stable sort: same-named headers keep their order (RFC 9110 5.3).
    lines = [f"HTTP/{version} {task.status}"]
    lines += [f"{name}: {value}" for name, value in sorted(headers, key=_by_name)]
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


# An answer: request version and Connection header, status, the app's
# headers, the length the app gave waitress (or None), the server's ident.
Sample = tuple[str, str | None, str, list[tuple[str, str]], int | None, str]

SAMPLES: tuple[Sample, ...] = (
    (
        "1.1",
        None,
        "418 I'm a Teapot",
        [("Content-Type", "text/plain"), ("x-request-id", "a"), ("Content-Length", "16")],
        16,
        "simple_flask",
    ),
    ("1.1", "close", "200 OK", [("set-cookie", "a=1"), ("Set-Cookie", "b=2")], 5, "waitress"),
    ("1.1", None, "200 OK", [("X-A", "1")], None, "simple_flask"),
    ("1.1", None, "204 No Content", [("Content-Length", "0")], None, ""),
    ("1.0", "keep-alive", "200 OK", [("Server", "app"), ("Date", "then")], 3, "simple_flask"),
    ("1.0", None, "304 Not Modified", [("ETag", '"x"')], None, "simple_flask"),
)


def sample_task(sample: Sample) -> WSGITask:
    """Return a task answering `sample`, its app done and its head not yet built."""
    version, connection, status, headers, content_length, ident = sample
    adj = Adjustments(ident=ident)
    request = HTTPRequestParser(adj)
    lines = [f"GET / HTTP/{version}", "Host: localhost"]
    if connection is not None:
        lines.append(f"Connection: {connection}")
    request.received(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    task = WSGITask(SimpleNamespace(server=SimpleNamespace(adj=adj)), request)
    task.status = status
    task.response_headers = list(headers)
    task.content_length = content_length
    task.start_time = 1_700_000_000.25
    return task


def outcome(task: WSGITask, build: Callable[[Task], bytes]) -> tuple[object, ...]:
    """Return what building `task`'s head with `build` writes and leaves set."""
    head = build(task)
    return (head, task.response_headers, task.close_on_finish, task.chunked_response)


def head_mismatch(samples: Iterable[Sample] = SAMPLES) -> str | None:
    """Return None when build_head() and this waitress write the same heads; else which differs."""
    for sample in samples:
        if outcome(sample_task(sample), build_head) != outcome(
            sample_task(sample), WSGITask.build_response_header
        ):
            return f"this waitress writes the head of {sample[2]!r} (HTTP/{sample[0]}) otherwise"
    return None


def fast_heads(task_class: type[WSGITask]) -> type[WSGITask]:
    """Return a subclass of `task_class` whose response heads build_head() writes."""
    return type(task_class.__name__, (task_class,), {"build_response_header": build_head})
