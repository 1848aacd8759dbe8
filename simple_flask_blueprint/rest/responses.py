"""Response builders: negotiated plain text or JSON, and RFC 9457 problem details."""

import json
from collections.abc import Iterable, Mapping

from flask import Response, request
from werkzeug.datastructures import Headers

from ..core.http_facts import NOSNIFF, PROBLEM_MIMETYPE, problem_body, status_line, status_phrase

__all__ = [
    "PROBLEM_MIMETYPE",
    "negotiated",
    "nosniff",
    "prefers_json",
    "problem",
    "status_phrase",
    "with_phrase",
]
# Plain text comes first: on a tie (a browser's */*) it wins, so a name is never
# answered under a type a browser would render.
_OFFERED = ("text/plain", "application/json")


# Accept values that rank both types alike, so plain text wins: most clients
# send one of them, and they need no parsing.
_ANY_TYPE = frozenset(("", "*/*"))


def prefers_json() -> bool:
    """Tell whether the request's Accept header ranks JSON above plain text."""
    accept = request.environ.get("HTTP_ACCEPT")
    if accept is None or accept in _ANY_TYPE:
        return False
    return request.accept_mimetypes.best_match(_OFFERED, "text/plain") == "application/json"


def negotiated(text: str, data: object, status: int = 200) -> Response:
    """Answer `text` as text/plain, or `data` as JSON when the client prefers JSON."""
    if prefers_json():
        response = Response(json.dumps(data), status_line(status), mimetype="application/json")
    else:
        response = Response(text, status_line(status), mimetype="text/plain")
    # Set outright: a new response has no Vary to merge with.
    response.headers["Vary"] = "Accept"
    return nosniff(response)


def with_phrase(status: int) -> str:
    """Return the status line text of `status`, such as "404 Not Found"."""
    # Werkzeug, given a bare number, writes its own upper-case phrase
    # ("404 NOT FOUND", "299 UNKNOWN"); the registered phrase reads as RFC 9110 has it.
    return status_line(status)


def problem(
    status: int,
    detail: str,
    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Response:
    """Build an application/problem+json response titled with the status's phrase."""
    return nosniff(
        Response(
            problem_body(status, detail),
            status_line(status),
            headers=headers,
            mimetype=PROBLEM_MIMETYPE,
        )
    )


def nosniff(response: Response) -> Response:
    """Forbid browsers to guess a content type other than the one declared."""
    response.headers[NOSNIFF[0]] = NOSNIFF[1]
    return response
