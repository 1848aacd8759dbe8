"""CorsMemo: flask-cors's after_request function, its headers worked out once per request shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, Response, request

from ..core.memo import BoundedMemo
from ..wsgi.environ import EXPOSE_HEADERS
from .probe import probe_environ

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# How many request shapes keep their CORS headers; the values come from
# clients, so the memo is bounded, and a shape longer than MAX_MEMO_KEY
# characters is computed every time rather than kept.
MEMO_SIZE = 1024
MAX_MEMO_KEY = 1024
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
EXPOSE = "Access-Control-Expose-Headers"
# The one request header that changes flask-cors's answer to a simple request.
_PRIVATE_NETWORK = "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"
# (method, Origin) of the simple requests whose headers must agree for the "*"
# configuration to add one constant set to every simple request.
SIMPLE_SAMPLES = (
    ("GET", None),
    ("GET", "https://a.example"),
    ("HEAD", ""),
    ("POST", "null"),
    ("DELETE", "http://[::1]:8080"),
)
# Request shapes prove() sends, each to several paths with other headers:
# (method, request headers).
PROOF_SHAPES: tuple[tuple[str, dict[str, str]], ...] = (
    ("GET", {}),
    ("GET", {"Origin": "https://a.example"}),
    ("POST", {"Origin": "null"}),
    (
        "OPTIONS",
        {
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-a, content-type",
        },
    ),
    ("GET", {"Origin": "https://a.example", "Access-Control-Request-Private-Network": "true"}),
)
# Each shape goes to "/" alone, and to another path with other headers.
PROOF_ELSEWHERE = (
    "/a/b/?x=1",
    {"Accept": "application/json", "Cookie": "a=1", "X-Request-ID": "p"},
)

# The request method, then the Origin and Access-Control-Request-* headers (None if absent).
CorsKey = tuple[str | None, ...]


class CorsMemo:
    """flask-cors's after_request function, computed once per request shape.

    flask-cors derives its headers from the request's method, Origin and
    Access-Control-Request-* headers alone (the one resource, "/*", matches
    every path), so they are worked out once by letting flask-cors decorate a
    blank response, and later copied from the memo. With the "*" origin, a
    simple request (not a preflight, no private-network request) gets the same
    headers whatever its Origin: `simple` holds them, checked against
    flask-cors at start-up, and such a request skips even the memo lookup.

    Keeping the headers relies on flask-cors deriving them from the request's
    shape alone, which it does not promise: prove() checks it at start-up on
    requests of one shape to other paths and with other headers, and
    configure_cors() keeps nothing where it does not hold.

    Speed only: it saves flask-cors's per-request work; the constant set
    also the memo lookup (part of the 40,900 instructions a greeting saved
    with `finishing.py`, see docs/benchmarks.md). flask-cors's own function,
    called on every response, would replace it.
    """

    def __init__(
        self,
        compute: Callable[[Response], Response],
        vary_origin: bool = False,
        simple: tuple[tuple[str, str], ...] | None = None,
        keep: bool = True,
    ):
        self.compute = compute
        # Whether every answer gets Vary: Origin (a list of origins, not "*").
        self.vary_origin = vary_origin
        self.simple = simple
        # Whether headers worked out are kept for the next request of the same
        # shape (see prove()); without, flask-cors works them out every time.
        self.keep = keep
        self.memo: BoundedMemo = BoundedMemo(MEMO_SIZE)

    def headers_for(self, key: CorsKey) -> tuple[tuple[str, str], ...]:
        """Return the headers flask-cors adds to a response to this request, of shape `key`.

        A key not yet kept is worked out by flask-cors, which reads the
        current request: call it inside the request's context.
        """
        added: tuple[tuple[str, str], ...] | None = self.memo.get(key)
        if added is not None:
            return added
        blank = Response()
        before = len(blank.headers)
        self.compute(blank)
        added = tuple(blank.headers.to_wsgi_list()[before:])
        if self.keep and sum(len(value or "") for value in key) <= MAX_MEMO_KEY:
            self.memo.keep(key, added)
        return added

    def added(self, environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
        """Return the CORS headers an answer to the request of `environ` gets (in its context)."""
        if EXPOSE_HEADERS in environ:
            more = environ[EXPOSE_HEADERS]
            # The memo holds the headers shared by every answer to this shape
            # of request; the names this one answer adds go on top.
            return tuple(
                (name, ", ".join((value, *more))) if name == EXPOSE and more else (name, value)
                for name, value in self.shared(environ)
            )
        return self.shared(environ)

    def shared(self, environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
        """Return the CORS headers every answer to a request shaped as `environ` gets."""
        method = environ["REQUEST_METHOD"]
        if self.simple is not None and method != "OPTIONS" and _PRIVATE_NETWORK not in environ:
            return self.simple
        get = environ.get
        return self.headers_for(
            (
                method,
                get("HTTP_ORIGIN"),
                get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                get(_PRIVATE_NETWORK),
            )
        )

    def __call__(self, response: Response) -> Response:
        """Add the CORS headers (and Vary: Origin) the current request calls for to `response`."""
        if self.vary_origin:
            response.vary.add("Origin")
        headers = response.headers
        # As flask-cors does: an answer that has them already (an error answer
        # its exception handler decorated) is left alone.
        if ALLOW_ORIGIN in headers and headers.get(ALLOW_ORIGIN):
            return response
        added = self.added(request.environ)
        if added:
            headers.extend(added)
        return response


def simple_headers(
    app: Flask, compute: Callable[[Response], Response]
) -> tuple[tuple[str, str], ...] | None:
    """Return the headers flask-cors gives every simple request, or None if they vary.

    Worked out by flask-cors itself for simple requests of several methods
    and origins (none at all included); they are used only when all agree.
    """
    found: set[tuple[tuple[str, str], ...]] = set()
    for method, origin in SIMPLE_SAMPLES:
        headers = {"Origin": origin} if origin is not None else {}
        with app.request_context(probe_environ(method, "/", headers)):
            blank = Response()
            before = len(blank.headers)
            compute(blank)
            found.add(tuple(blank.headers.to_wsgi_list()[before:]))
    return found.pop() if len(found) == 1 else None


def _added(
    app: Flask,
    compute: Callable[[Response], Response],
    method: str,
    path: str,
    headers: dict[str, str],
) -> tuple[tuple[str, str], ...]:
    with app.request_context(probe_environ(method, path, headers)):
        blank = Response()
        before = len(blank.headers)
        compute(blank)
        return tuple(blank.headers.to_wsgi_list()[before:])


def prove(app: Flask, compute: Callable[[Response], Response]) -> str | None:
    """Return None when flask-cors's headers follow from a request's shape alone; else why not.

    Each shape of PROOF_SHAPES is sent to "/", and to another path with other
    headers: both must get the same CORS headers.
    """
    path, noise = PROOF_ELSEWHERE
    for method, shape in PROOF_SHAPES:
        if _added(app, compute, method, "/", shape) != _added(
            app, compute, method, path, {**noise, **shape}
        ):
            return f"flask-cors answers {method} {shape} differently by path or other headers"
    return None
