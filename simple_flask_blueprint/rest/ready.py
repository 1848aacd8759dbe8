"""ReadyResponse: a Flask response built from an encoded body and a list of ready header pairs.

Werkzeug's Response() validates each header as it sets it (Content-Type,
then Content-Length, then every one added after) and looks through the
headers already set for one of the same name; negotiated() and problem()
know their headers in advance, all valid, so ready() hands them over as one
list instead. The result is an ordinary Flask response: its headers are a
Werkzeug `Headers`, and anything set on it later is validated as usual.

It relies on one thing Werkzeug does not document, checked when this module
is imported: `Headers` keeps its pairs in a list named `_list`. A Werkzeug
that keeps them elsewhere gets them through Headers(pairs), validated, and
tests/simple_flask_blueprint/rest/test_ready.py fails until this is looked
at again.

Speed only: a greeting took 39,000 fewer machine instructions a request
(834,400 -> 795,100, see docs/benchmarks.md). Response(body, status, mimetype=...) followed by
setting each header would replace it.
"""

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


def _list_headers() -> bool:
    """Tell whether Werkzeug's Headers keeps its pairs in a list named _list."""
    pairs = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "1")]
    return getattr(Headers(pairs), "_list", None) == pairs


# Checked once: a Werkzeug that keeps its pairs elsewhere gets them validated.
LIST_HEADERS = _list_headers()
