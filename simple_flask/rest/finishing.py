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
which copies the headers and validates each one again. Such an answer with
a body of one chunk of bytes is sent as its list rather than through
get_app_iter()'s iterator and close() wrapper, which reads Werkzeug's
undocumented `_on_close`. prove() sends sample answers of each kind both
ways at start-up, and create_app() takes the shortcut only where they come
out alike; test_finishing.py checks the headers sent against Werkzeug's own
for answers of every kind.

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

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

from simple_flask_blueprint.core.http_facts import NOSNIFF

from .cors_memo import ALLOW_ORIGIN, CorsMemo
from .errors import finish_redirect
from .probe import probe_environ
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
    # Whether answers Werkzeug sends unchanged skip its copy (see prove()).
    skip_copy = False

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
        app_iter: Iterable[bytes]
        if (
            self.skip_copy
            and 200 <= code < 300
            and code != 204
            and _LENGTH in names
            and names.isdisjoint(_FIXED)
        ):
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
            # Werkzeug's get_wsgi_headers() changes the other answers' headers
            # (Location made absolute, Content-Length set or removed), and
            # copies every header, validating each one again.
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


def _on_close_called(calls: list[str]) -> None:
    calls.append("closed")


# The class the proof sends its samples with: no CORS headers of its own.
_Sample = finishing_response_class(CorsMemo(lambda response: response, keep=False))


def _samples() -> list[tuple[str, Callable[[list[str]], FinishingResponse]]]:
    """(method, f(calls) -> response) pairs: answers of each kind the shortcut could meet."""

    def plain(calls: list[str]) -> FinishingResponse:
        return _Sample(b"text", 200, mimetype="text/plain")

    def ready(calls: list[str]) -> FinishingResponse:
        headers = [("Content-Type", "text/plain"), ("Content-Length", "5"), ("X-A", "1")]
        return cast(FinishingResponse, _Sample.ready(b"ready", 299, "299 Other", headers))

    def closing(calls: list[str]) -> FinishingResponse:
        response = _Sample(b"text", 201)
        response.call_on_close(lambda: _on_close_called(calls))
        return response

    def streamed(calls: list[str]) -> FinishingResponse:
        return _Sample(iter([b"a", b"b"]), 200, headers={"Content-Length": "2"})

    makers = (plain, ready, closing, streamed)
    return [(method, make) for method in ("GET", "HEAD") for make in makers]


def prove() -> str | None:
    """Return None when skipping Werkzeug's copy sends what Werkzeug sends; else which differs.

    Each sample answer is sent both ways: the same body, headers and
    on-close callbacks must come out.
    """
    for method, make in _samples():
        environ = probe_environ(method)
        outcomes = []
        for skip_copy in (False, True):
            calls: list[str] = []
            response = make(calls)
            response.skip_copy = skip_copy
            body, _, headers = response.get_wsgi_response(environ)
            data = b"".join(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()
            outcomes.append((data, headers, calls))
        if outcomes[0] != outcomes[1]:
            return f"a {make.__name__} answer to {method} is sent otherwise: {outcomes!r}"[:300]
    return None
