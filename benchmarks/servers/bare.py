"""The limit: a bare WSGI callable that answers every request with one constant body."""

BODY = b"Hallo Kalimaha from CORE!"
HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(BODY))),
]


def app(environ, start_response):
    """Answer any request with 200 and the constant body."""
    start_response("200 OK", HEADERS)
    return [BODY]


if __name__ == "__main__":
    from .waitress_runner import serve

    serve(app)
