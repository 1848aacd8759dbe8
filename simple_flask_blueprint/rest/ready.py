"""ReadyResponse: a Flask response built from an encoded body and a list of ready header pairs.

Werkzeug's Response() validates each header as it sets it (Content-Type,
then Content-Length, then every one added after) and looks through the
headers already set for one of the same name; negotiated() and problem()
know their headers in advance, all valid, so ready() hands them over as one
list instead. The result is an ordinary Flask response: its headers are a
Werkzeug `Headers`, and anything set on it later is validated as usual.

It relies on two things Werkzeug does not document, both checked when this
module is imported (so a Werkzeug release that changes either fails at
start-up rather than answering wrongly): `Headers` keeps its pairs in a
list named `_list`, and Response.__init__ sets exactly the attributes
ready() sets.

Speed only: a greeting took 39,000 fewer machine instructions a request
(834,400 -> 795,100)
(see docs/benchmarks.md). Response(body, status, mimetype=...) followed by
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
        response = cls.__new__(cls)
        ready_headers = Headers()
        ready_headers._list = headers
        # What Response.__init__ sets (checked below).
        response.headers = ready_headers
        response._status = status
        response._status_code = code
        response.direct_passthrough = False
        response._on_close = []
        response.response = [body]
        return response


def _check_werkzeug() -> None:
    """Raise RuntimeError unless Werkzeug works as ReadyResponse.ready() expects."""
    pairs = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "1")]
    if Headers(pairs)._list != pairs:
        raise RuntimeError("werkzeug.datastructures.Headers no longer keeps its pairs in _list")
    built = Response(b"x", "200 OK", mimetype="text/plain")
    ready = ReadyResponse.ready(b"x", 200, "200 OK", list(pairs))
    if vars(built).keys() != vars(ready).keys() or list(built.headers) != list(ready.headers):
        raise RuntimeError(
            "werkzeug's Response.__init__ sets other attributes than ReadyResponse.ready():"
            f" {sorted(vars(built))} against {sorted(vars(ready))}"
        )


_check_werkzeug()
