"""The root app's response class: the headers it sends are Werkzeug's, plus nosniff and CORS."""

import pytest
from flask import Response

from simple_flask import create_app
from simple_flask.core.settings import Settings

ADDED = {"X-Content-Type-Options", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers"}


def _stream():
    yield b"chunk"


RESPONSES = [
    lambda: Response("text", 200, mimetype="text/plain"),
    lambda: Response("text", 201, headers={"Location": "/made/é"}),
    lambda: Response("text", 200, headers={"Content-Location": "/here/é"}),
    lambda: Response("", 204),
    lambda: Response("text", 304, headers={"ETag": '"x"', "Content-Type": "text/plain"}),
    lambda: Response(_stream(), 200, mimetype="text/plain"),
    lambda: Response("text", 299, headers={"X-Custom": "1", "Vary": "Accept"}),
    lambda: Response("text", 100),
    lambda: Response("text", 404, mimetype="application/problem+json"),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("make", RESPONSES)
def test_the_headers_sent_are_werkzeugs_plus_nosniff_and_cors(make, method):
    app = create_app({"TESTING": True, "SETTINGS": Settings()})
    with app.test_request_context("/any/where", method=method) as context:
        environ = context.request.environ
        plain = make()
        body, status, expected = plain.get_wsgi_response(environ)
        finishing = make()
        finishing.__class__ = app.response_class
        sent_body, sent_status, sent = finishing.get_wsgi_response(environ)
    assert b"".join(sent_body) == b"".join(body)
    # The code is Werkzeug's; a 3xx answer's phrase is the registered one.
    assert sent_status.split()[0] == status.split()[0]
    assert [h for h in sent if h[0] not in ADDED] == expected
    assert {name for name, _ in sent} >= ADDED
