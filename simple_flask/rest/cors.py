"""Cross-origin resource sharing for the root app, configured once from the settings."""

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, cast

from flask import Flask, Response, request
from flask_cors import CORS

from ..core.memo import BoundedMemo
from ..core.sequences import ATTEMPT_HEADER
from ..core.settings import Settings
from ..core.status_headers import EXPOSED_HEADERS

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
    blank response, and later copied from the memo.
    """

    def __init__(self, compute: Callable[[Response], Response], vary_origin: bool = False):
        self.compute = compute
        # Whether every answer gets Vary: Origin (a list of origins, not "*").
        self.vary_origin = vary_origin
        self.memo: BoundedMemo = BoundedMemo(MEMO_SIZE)

    def headers_for(self, key: CorsKey) -> tuple[tuple[str, str], ...]:
        """Return the headers flask-cors adds to a response to this request, of shape `key`."""
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

    def __call__(self, response: Response) -> Response:
        """Add the CORS headers (and Vary: Origin) the request calls for to `response`."""
        if self.vary_origin:
            response.vary.add("Origin")
        headers = response.headers
        # As flask-cors does: an answer that has them already (an error answer
        # its exception handler decorated) is left alone.
        if ALLOW_ORIGIN in headers and headers.get(ALLOW_ORIGIN):
            return response
        environ = request.environ
        get = environ.get
        added = self.headers_for(
            (
                environ["REQUEST_METHOD"],
                get("HTTP_ORIGIN"),
                get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
            )
        )
        if added:
            headers.extend(added)
            more = get(EXPOSE_MORE)
            if more and EXPOSE in headers:
                # The memo holds the headers shared by every answer to this
                # shape of request; the names this one answer adds go on top.
                headers[EXPOSE] = ", ".join((headers[EXPOSE], *more))
        return response


def configure_cors(app: Flask, settings: Settings) -> CorsMemo:
    """Configure flask-cors on every route of `app`, errors included; return its memoized hook.

    With the "*" origin any page may read the answers, without credentials;
    with a list, only those origins may, and with credentials. The caller
    runs the returned function on every response (as an after_request function).
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
        return CorsMemo(take_flask_cors_hook(app))
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
