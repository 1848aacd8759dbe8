"""Cross-origin resource sharing for the root app, configured once from the settings."""

import re
from datetime import timedelta

from flask import Flask, Response
from flask_cors import CORS

from ..core.status_headers import EXPOSED_HEADERS
from ..settings import Settings

# Headers a browser script may read besides the CORS-safelisted ones: those the
# status service sets, the proxy challenge and the request id for correlating
# logs.
EXPOSE_HEADERS: tuple[str, ...] = tuple(
    dict.fromkeys((*EXPOSED_HEADERS, "Proxy-Authenticate", "X-Request-ID"))
)
# How long a browser may reuse a preflight answer; Chromium caps it at 2 hours.
PREFLIGHT_MAX_AGE = timedelta(minutes=10)


def _exact(origin: str) -> re.Pattern[str]:
    """Match exactly `origin`, ignoring case as browsers and RFC 6454 do for scheme and host."""
    # flask-cors takes a string holding "[" or "]" (an IPv6 origin) for a regular
    # expression; an escaped, anchored pattern means the same literal origin.
    return re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)


def _vary_on_origin(response: Response) -> Response:
    """Tell caches that the answer depends on the Origin header."""
    response.vary.add("Origin")
    return response


def configure_cors(app: Flask, settings: Settings) -> None:
    """Answer cross-origin requests and preflights on every route of `app`, errors included.

    With the "*" origin any page may read the answers, without credentials;
    with a list, only those origins may, and with credentials.
    """
    common = {
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
        return
    CORS(
        app,
        origins=[_exact(origin) for origin in settings.cors_origins],
        supports_credentials=True,
        # Without an Origin header flask-cors would list every allowed origin
        # in one Access-Control-Allow-Origin header, which no browser accepts.
        always_send=False,
        # Vary: Origin goes on every answer, matched or not (see below), so a
        # shared cache never hands one origin's answer to another.
        vary_header=False,
        **common,
    )
    app.after_request(_vary_on_origin)
