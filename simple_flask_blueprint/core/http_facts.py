"""HTTP facts the blueprint and the root service share, as plain data: no web framework here.

Reason phrases come from `http.HTTPStatus` alone; the problem document is
RFC 9457's `application/problem+json`. The blueprint builds its answers from
these, and so does the root service, down to the errors its server answers
before a request reaches Flask.
"""

import json
from http import HTTPStatus

# The request methods the service answers, in the order an Allow header lists them.
METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_PHRASE = "Unknown Status Code"
PROBLEM_MIMETYPE = "application/problem+json"
# Every answer carries it: browsers must not guess a type other than the one declared.
NOSNIFF = ("X-Content-Type-Options", "nosniff")

_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def status_phrase(code: int) -> str:
    """Return the registered reason phrase of `code`, or "Unknown Status Code"."""
    return _PHRASES.get(code, UNKNOWN_PHRASE)


def status_line(code: int) -> str:
    """Return the status line text of `code`, such as "404 Not Found"."""
    return f"{code} {status_phrase(code)}"


def problem_body(status: int, detail: str) -> str:
    """Return the problem+json document of an error: its type, title, status and detail."""
    return json.dumps(
        {"type": "about:blank", "title": status_phrase(status), "status": status, "detail": detail}
    )


def problem_answer(status: int, detail: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Return the status line, headers and body of a problem+json answer.

    The one builder of error answers: Flask's (problem()) and the server's own.
    """
    body = problem_body(status, detail).encode()
    headers = [("Content-Type", PROBLEM_MIMETYPE), ("Content-Length", str(len(body))), NOSNIFF]
    return status_line(status), headers, body
