"""Cross-origin resource sharing for the root app, configured once from the settings."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, Response, request
from flask_cors import CORS

from ..core.memo import BoundedMemo
from ..core.sequences import ATTEMPT_HEADER
from ..core.settings import Settings
from ..core.status_headers import EXPOSED_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# Headers a browser script may read besides the CORS-safelisted ones: those the
# status service sets, a sequence's attempt number, the proxy challenge and
# the request id for correlating logs.
EXPOSE_HEADERS: tuple[str, ...] = tuple(
    dict.fromkeys((*EXPOSED_HEADERS, ATTEMPT_HEADER, "Proxy-Authenticate", "X-Request-ID"))
)
# How long a browser may reuse a preflight answer; Chromium caps it at 2 hours.
PREFLIGHT_MAX_AGE = timedelta(minutes=10)
# How many request shapes keep their CORS headers; the values come from
# clients, so the memo is bounded, and a shape longer than MAX_MEMO_KEY
# characters is computed every time rather than kept.
MEMO_SIZE = 1024
MAX_MEMO_KEY = 1024
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
# Where create_app keeps the app's CorsMemo (in app.extensions), for the
# answers the server gives before a request reaches the app.
EXTENSION = "simple_flask.cors"
EXPOSE = "Access-Control-Expose-Headers"
# Where a view lists, in the WSGI environ, the headers of its answer a page
# may read besides EXPOSE_HEADERS (a tuple of names); see expose_headers().
EXPOSE_MORE = "simple_flask.expose_headers"
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
# The name and module of the after_request function CORS(app) registers.
_FLASK_CORS_HOOK = ("cors_after_request", "flask_cors.extension")

# The request method, then the Origin and Access-Control-Request-* headers (None if absent).
CorsKey = tuple[str | None, ...]


def is_preflight() -> bool:
    """Tell whether the request is a CORS preflight rather than a plain OPTIONS."""
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _exact(origin: str) -> re.Pattern[str]:
    """Match exactly `origin`, ignoring case as browsers and RFC 6454 do for scheme and host."""
    # flask-cors takes a string holding "[" or "]" (an IPv6 origin) for a regular
    # expression; an escaped, anchored pattern means the same literal origin.
    return re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)


def take_flask_cors_hook(app: Flask) -> Callable[[Response], Response]:
    """Remove and return the after_request function that CORS(app) has just registered."""
    hooks = app.after_request_funcs.get(None, [])
    hook = hooks[-1] if hooks else None
    if (getattr(hook, "__name__", None), getattr(hook, "__module__", None)) != _FLASK_CORS_HOOK:
        # The memo below relies on this one function; a flask-cors release that
        # registers something else must fail at start-up, not answer without CORS.
        raise RuntimeError(f"flask-cors did not register {_FLASK_CORS_HOOK[0]} last: {hook!r}")
    hooks.pop()
    # Checked above to be flask-cors's after_request function.
    return cast("Callable[[Response], Response]", hook)


def expose_headers(names: Iterable[str]) -> None:
    """Let a page on an allowed origin read these headers of the current request's answer too."""
    request.environ[EXPOSE_MORE] = tuple(names)


class CorsMemo:
    """flask-cors's after_request function, computed once per request shape.

    flask-cors derives its headers from the request's method, Origin and
    Access-Control-Request-* headers alone (the one resource, "/*", matches
    every path), so they are worked out once by letting flask-cors decorate a
    blank response, and later copied from the memo. With the "*" origin, a
    simple request (not a preflight, no private-network request) gets the same
    headers whatever its Origin: `simple` holds them, checked against
    flask-cors at start-up, and such a request skips even the memo lookup.

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
    ):
        self.compute = compute
        # Whether every answer gets Vary: Origin (a list of origins, not "*").
        self.vary_origin = vary_origin
        self.simple = simple
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
        if sum(len(value or "") for value in key) <= MAX_MEMO_KEY:
            self.memo.keep(key, added)
        return added

    def added(self, environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
        """Return the CORS headers an answer to the request of `environ` gets (in its context)."""
        if EXPOSE_MORE in environ:
            more = environ[EXPOSE_MORE]
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
        with app.test_request_context("/", method=method, headers=headers):
            blank = Response()
            before = len(blank.headers)
            compute(blank)
            found.add(tuple(blank.headers.to_wsgi_list()[before:]))
    return found.pop() if len(found) == 1 else None


def configure_cors(app: Flask, settings: Settings) -> CorsMemo:
    """Configure flask-cors on every route of `app`, errors included; return its memoized hook.

    With the "*" origin any page may read the answers, without credentials;
    with a list, only those origins may, and with credentials. The caller
    adds the returned memo's headers to every answer (see
    `simple_flask.rest.finishing`).
    """
    common: dict[str, Any] = {
        "expose_headers": list(EXPOSE_HEADERS),
        "max_age": PREFLIGHT_MAX_AGE,
        # Error answers (404, 405, 400, 500) carry the headers too, so a page
        # can read why its request failed.
        "intercept_exceptions": True,
    }
    if settings.cors_origins == ("*",):
        # A literal "*" rather than the caller's origin echoed back: one answer
        # fits every origin, so caches need no Vary: Origin. The CORS protocol
        # forbids credentials with "*".
        CORS(app, origins="*", send_wildcard=True, supports_credentials=False, **common)
        hook = take_flask_cors_hook(app)
        return CorsMemo(hook, simple=simple_headers(app, hook))
    CORS(
        app,
        origins=[_exact(origin) for origin in settings.cors_origins],
        supports_credentials=True,
        # Without an Origin header flask-cors would list every allowed origin
        # in one Access-Control-Allow-Origin header, which no browser accepts.
        always_send=False,
        # Vary: Origin goes on every answer, matched or not, so a shared cache
        # never hands one origin's answer to another.
        vary_header=False,
        **common,
    )
    return CorsMemo(take_flask_cors_hook(app), vary_origin=True)


def cors_headers_outside(
    app: Flask,
) -> Callable[[str | None, str], tuple[tuple[str, str], ...]] | None:
    """Return f(origin, method): the CORS headers the app's answers carry for that request.

    For answers given outside the app (the server's own 400, 413, 431), so a
    cross-origin page can read them as it reads the app's. None when `app`
    has no CORS configured by configure_cors().
    """
    memo = getattr(app, "extensions", {}).get(EXTENSION)
    if memo is None:
        return None
    vary = (("Vary", "Origin"),) if memo.vary_origin else ()

    def headers(origin: str | None, method: str) -> tuple[tuple[str, str], ...]:
        key: CorsKey = (method, origin, None, None, None)
        added: tuple[tuple[str, str], ...] | None = memo.memo.get(key)
        if added is None:
            # flask-cors reads the request from Flask's context: a blank one
            # with this method and Origin stands in for the refused request.
            with app.test_request_context(
                "/", method=method, headers={} if origin is None else {"Origin": origin}
            ):
                added = memo.headers_for(key)
        return vary + added

    return headers
