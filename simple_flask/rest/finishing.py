"""The root app's response class: every answer is finished where it leaves Flask.

Each answer gets X-Content-Type-Options: nosniff and the CORS headers the
request calls for (see `cors.py`), and a 3xx answer goes through
finish_redirect(). This is done in get_wsgi_response(), as Werkzeug
turns the response into its status line and list of headers (a response
class that sends itself differently, such as a stalled answer, calls it too):
the headers are appended to that list as ready (name, value) tuples, which
costs less than adding them to the response's `Headers` (each of those is
validated twice, once when set and once when Werkzeug copies the headers),
and the app needs no after_request function, which Flask calls through
`ensure_sync`.

An answer Werkzeug would send with its headers unchanged (2xx but 204, a
Content-Length, no Location or Content-Location) skips get_wsgi_headers(),
which copies the headers and validates each one again; test_finishing.py
checks the headers sent against Werkzeug's own for answers of every kind.
Such an answer with a body of one chunk of bytes is sent as its list rather
than through get_app_iter()'s iterator and close() wrapper.

Speed only (see docs/benchmarks.md): with the constant CORS set of
`CorsMemo.simple`, a greeting took 41,000 fewer machine instructions a
request served by waitress (918,200 -> 877,400), skipping the copy
34,000 fewer (868,800 -> 834,400), and sending a one-chunk body as its list
(with RequestLog counting it without a generator) 22,000 fewer (790,800 ->
768,700). One after_request function setting the
same headers on `response.headers`, and Werkzeug's get_wsgi_response(),
would replace it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from simple_flask_blueprint.core.http_facts import NOSNIFF

from .cors import ALLOW_ORIGIN, CorsMemo
from .errors import finish_redirect
from .responses import ReadyResponse

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_NOSNIFF_NAME = NOSNIFF[0].lower()
_ALLOW_ORIGIN_NAME = ALLOW_ORIGIN.lower()
_LENGTH = "content-length"
# Headers Werkzeug rewrites as a response is sent.
_FIXED = frozenset(("location", "content-location"))


class FinishingResponse(ReadyResponse):
    """A Flask response that adds nosniff and CORS to itself as it is sent.

    A ReadyResponse, so that negotiated() and problem() build it directly.
    """

    # Set on the subclass that finishing_response_class() makes for an app.
    cors: CorsMemo

    def get_wsgi_response(
        self, environ: WSGIEnvironment
    ) -> tuple[Iterable[bytes], str, list[tuple[str, str]]]:
        """Return the body, status line and headers to send, finished (in the request context)."""
        code = self.status_code
        if 300 <= code < 400:
            finish_redirect(self)
        cors = self.cors
        if cors.vary_origin:
            # Every answer, matched or not, so a shared cache never hands one
            # origin's answer to another.
            self.vary.add("Origin")
        headers = self.headers.to_wsgi_list()
        names = {name.lower() for name, _ in headers}
        sized = _LENGTH in names and names.isdisjoint(_FIXED)
        app_iter: Iterable[bytes]
        if sized and 200 <= code < 300 and code != 204:
            body = self.response
            if (
                type(body) is list
                and len(body) == 1
                and type(body[0]) is bytes
                and not self._on_close
                and environ["REQUEST_METHOD"] != "HEAD"
            ):
                # What get_app_iter() would yield, without its iterator and
                # the close() it wraps (a no-op for a list and no callbacks).
                app_iter = body
            else:
                app_iter = self.get_app_iter(environ)
        else:
            # Werkzeug's get_wsgi_headers() changes these answers' headers
            # (Location made absolute, Content-Length set or removed); others
            # it returns as a copy, validating each header again.
            headers = self.get_wsgi_headers(environ).to_wsgi_list()
            names = {name.lower() for name, _ in headers}
            app_iter = self.get_app_iter(environ)
        # negotiated() and problem() set it already.
        if _NOSNIFF_NAME not in names:
            headers.append(NOSNIFF)
        # As flask-cors does: an answer that has them already (an error
        # answer its exception handler decorated) is left alone.
        if _ALLOW_ORIGIN_NAME not in names:
            headers.extend(cors.added(environ))
        return app_iter, self.status, headers


def finishing_response_class(cors: CorsMemo) -> type[FinishingResponse]:
    """Return a response class for one app, adding the CORS headers of `cors`."""
    made = type("FinishingResponse", (FinishingResponse,), {"cors": cors})
    return cast("type[FinishingResponse]", made)
