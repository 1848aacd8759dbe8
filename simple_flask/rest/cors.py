"""Cross-origin resource sharing for the root app, configured once from the settings."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, cast

from flask import Flask, Response, request
from flask_cors import CORS

from ..core.proofs import Kind, holds
from ..core.sequences import ATTEMPT_HEADER
from ..core.settings import Settings
from ..core.status_headers import EXPOSED_HEADERS
from ..wsgi.environ import expose
from .cors_memo import CorsKey, CorsMemo, prove, simple_headers

# Headers a browser script may read besides the CORS-safelisted ones: those the
# status service sets, a sequence's attempt number, the proxy challenge and
# the request id for correlating logs.
EXPOSE_HEADERS: tuple[str, ...] = tuple(
    dict.fromkeys((*EXPOSED_HEADERS, ATTEMPT_HEADER, "Proxy-Authenticate", "X-Request-ID"))
)
# How long a browser may reuse a preflight answer; Chromium caps it at 2 hours.
PREFLIGHT_MAX_AGE = timedelta(minutes=10)
# Where create_app keeps the app's CorsMemo (in app.extensions), for the
# answers the server gives before a request reaches the app.
EXTENSION = "simple_flask.cors"


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


def registered_by(
    app: Flask, register: Callable[[], object]
) -> Callable[[Response], Response] | None:
    """Run `register()`; remove and return the one app-wide after_request function it added.

    None, with the function left in place, when it added none or several.
    """
    before = list(app.after_request_funcs.get(None, []))
    register()
    hooks = app.after_request_funcs.get(None, [])
    added = [hook for hook in hooks if hook not in before]
    if len(added) != 1:
        return None
    hooks.remove(added[0])
    return cast("Callable[[Response], Response]", added[0])


def expose_headers(names: Iterable[str]) -> None:
    """Let a page on an allowed origin read these headers of the current request's answer too."""
    expose(request.environ, tuple(names))


def configure_cors(app: Flask, settings: Settings) -> CorsMemo:
    """Configure flask-cors on every route of `app`, errors included; return its memoized hook.

    With the "*" origin any page may read the answers, without credentials;
    with a list, only those origins may, and with credentials. The caller
    adds the returned memo's headers to every answer (see
    `simple_flask.rest.finishing`). Where flask-cors's own function cannot
    be told apart, it is left to run as flask-cors registered it, and the
    memo adds nothing.
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
        options: dict[str, Any] = dict(origins="*", send_wildcard=True, supports_credentials=False)
    else:
        options = dict(
            origins=[_exact(origin) for origin in settings.cors_origins],
            supports_credentials=True,
            # Without an Origin header flask-cors would list every allowed origin
            # in one Access-Control-Allow-Origin header, which no browser accepts.
            always_send=False,
            # Vary: Origin goes on every answer, matched or not, so a shared cache
            # never hands one origin's answer to another.
            vary_header=False,
        )
    hook = registered_by(app, lambda: CORS(app, **options, **common))
    vary = settings.cors_origins != ("*",)
    if not holds("CORS after_request taken from flask-cors", Kind.SHORTCUT, lambda: _found(hook)):
        return CorsMemo(lambda response: response, vary_origin=vary, keep=False)
    assert hook is not None
    keep = holds("CORS headers kept per request shape", Kind.SHORTCUT, lambda: prove(app, hook))
    simple = None if vary or not keep else simple_headers(app, hook)
    return CorsMemo(hook, vary_origin=vary, simple=simple, keep=keep)


def _found(hook: object) -> str | None:
    if hook is None:
        return "CORS(app) did not add exactly one after_request function; flask-cors runs as is"
    return None


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
