"""ReadyResponse: a Flask response built from an encoded body and a list of ready header pairs.

Werkzeug's Response() validates each header as it sets it (Content-Type,
then Content-Length, then every one added after) and looks through the
headers already set for one of the same name; negotiated() and problem()
know their headers in advance, all valid, so ready() hands them over as one
list instead. The result is an ordinary Flask response: its headers are a
Werkzeug `Headers`, and anything set on it later is validated as usual.

It relies on one thing Werkzeug does not document: `Headers` keeps its
pairs in a list named `_list`. When this module is imported, a response
built that way is compared with one built through Headers(pairs), by what
they send and what reading their headers gives; a Werkzeug on which they
differ gets its headers through Headers(pairs), validated, with one warning
in the log.

Speed only: a greeting took 39,000 fewer machine instructions a request
(834,400 -> 795,100, see docs/benchmarks.md). Response(body, status, mimetype=...) followed by
setting each header would replace it.
"""

import logging

from flask import Response
from werkzeug.datastructures import Headers

Pairs = list[tuple[str, str]]


class ReadyResponse(Response):
    """A Flask response whose status and headers were worked out before it was built."""

    @classmethod
    def ready(cls, body: bytes, code: int, status: str, headers: Pairs) -> "ReadyResponse":
        """Return a response of `body` with status `code` ("`status`" its line) and `headers`.

        `headers` must be (str, str) pairs without CR or LF, and must hold
        the Content-Type and the Content-Length of `body`; the list becomes
        the response's own.
        """
        if LIST_HEADERS:
            ready_headers = Headers()
            ready_headers._list = headers
        else:
            ready_headers = Headers(headers)
        # A Headers object is taken as it is, and with a Content-Type in it
        # and no mimetype none is set; the body goes in as set_data() would
        # leave it, with its Content-Length already among the headers.
        response = cls(None, status, ready_headers)
        response.response = [body]
        return response


def _sample(ready_list: bool) -> tuple[object, ...]:
    """Return what a sample response sends and reads, its headers set through _list or not."""
    pairs = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2"), ("X-A", "1")]
    headers = Headers()
    if ready_list:
        headers._list = list(pairs)
    else:
        headers = Headers(pairs)
    response = Response(None, "299 Other", headers)
    response.response = [b"ok"]
    response.headers.add("X-B", "2")
    environ = {"REQUEST_METHOD": "GET", "SERVER_NAME": "x", "SERVER_PORT": "80"}
    body, status, sent = response.get_wsgi_response(environ)
    return (
        list(body),
        status,
        sent,
        response.headers.get("content-type"),
        response.content_length,
        response.headers.getlist("X-A"),
        len(response.headers),
    )


def _list_headers() -> bool:
    """Tell whether responses whose Headers get their pairs as _list behave as validated ones."""
    try:
        why = None if _sample(True) == _sample(False) else "they send or read otherwise"
    except Exception as error:
        why = f"{type(error).__name__}: {error}"
    if why is None:
        return True
    logging.getLogger("simple_flask_blueprint").warning(
        "shortcut 'ready headers' is off: Headers given their pairs as _list: %s", why
    )
    return False


# Checked once: a Werkzeug that keeps its pairs elsewhere gets them validated.
LIST_HEADERS = _list_headers()
