"""Response builders: negotiated plain text or JSON, RFC 9457 problem details, empty answers."""

import json
from collections.abc import Iterable, Mapping

from flask import Flask, Request, Response, current_app, request
from werkzeug.datastructures import Headers

from ..core.http_facts import NOSNIFF, PROBLEM_MIMETYPE, problem_answer, status_line, status_phrase
from ..core.problems import Problem
from .ready import ReadyResponse

__all__ = [
    "PROBLEM_MIMETYPE",
    "empty",
    "negotiated",
    "nosniff",
    "prefers_json",
    "problem",
    "problem_for",
    "status_line",
    "status_phrase",
]
# Plain text comes first: on a tie (a browser's */*) it wins, so a name is never
# answered under a type a browser would render.
_OFFERED = ("text/plain", "application/json")


# Accept values that rank both types alike, so plain text wins: most clients
# send one of them, and they need no parsing.
_ANY_TYPE = frozenset(("", "*/*"))
# The headers of negotiated() and problem() answers that never change, as
# Werkzeug would write them (text is UTF-8; JSON needs no charset).
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_JSON = ("Content-Type", "application/json")
# Set outright: a new response has no Vary to merge with.
_VARY_ACCEPT = ("Vary", "Accept")


def prefers_json() -> bool:
    """Tell whether the request's Accept header ranks JSON above plain text."""
    # The request itself, looked up once: each attribute read through the
    # `request` proxy first fails as the proxy's own attribute, which costs
    # more than the rest of this function.
    # (The proxy is typed as the object it stands for.)
    current: Request = request._get_current_object()  # type: ignore[attr-defined,unused-ignore]
    accept = current.environ.get("HTTP_ACCEPT")
    if accept is None or accept in _ANY_TYPE:
        return False
    return current.accept_mimetypes.best_match(_OFFERED, "text/plain") == "application/json"


def _ready_class() -> type[ReadyResponse]:
    """Return the app's response class if it is a ReadyResponse, else ReadyResponse."""
    # An answer of the app's own class is sent as it is; one of another class
    # Flask converts, reading the request's environ through its proxy.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined,unused-ignore]
    own = app.response_class
    return own if issubclass(own, ReadyResponse) else ReadyResponse


def negotiated(text: str, data: object, status: int = 200) -> Response:
    """Answer `text` as text/plain, or `data` as JSON when the client prefers JSON."""
    if prefers_json():
        body, content_type = json.dumps(data).encode(), _JSON
    else:
        body, content_type = text.encode(), _TEXT
    return _ready_class().ready(
        body,
        status,
        status_line(status),
        [content_type, ("Content-Length", str(len(body))), _VARY_ACCEPT, NOSNIFF],
    )


def problem(
    status: int,
    detail: str,
    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Response:
    """Build an application/problem+json response titled with the status's phrase.

    `headers` are added to it, each name replacing a header of the same name.
    """
    line, ready_headers, body = problem_answer(status, detail)
    response = _ready_class().ready(body, status, line, ready_headers)
    if headers:
        extra = Headers(headers)
        for name in set(extra.keys()):
            del response.headers[name]
        response.headers.extend(extra)
    return response


def problem_for(error: Problem) -> Response:
    """Answer `error` as the problem it describes: its status, detail and headers."""
    return problem(error.status, error.detail, error.headers)


def empty(status: int, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Build an answer with no body, no Content-Type and no Content-Length (204, 205, 304)."""
    response = Response(status=status_line(status), headers=list(headers))
    del response.headers["Content-Type"]
    return response


def nosniff(response: Response) -> Response:
    """Forbid browsers to guess a content type other than the one declared."""
    response.headers[NOSNIFF[0]] = NOSNIFF[1]
    return response
