"""Error handling for the root app: every error is answered as problem+json."""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException

from simple_flask_blueprint.core.problems import Problem

from .responses import problem, problem_for, status_line


def http_error(error: HTTPException) -> Response:
    """Answer an HTTP error (404, 405, 413, ...) as problem+json, keeping its headers."""
    # Keep what the error needs to be useful (Allow on 405, Retry-After on 503),
    # but not its HTML Content-Type.
    headers = [(key, value) for key, value in error.get_headers() if key.lower() != "content-type"]
    return problem(error.code or 500, error.description or "", headers)


def unexpected_error(error: Exception) -> Response:
    """Log an unhandled exception and answer a 500 problem without a traceback."""
    current_app.logger.exception("unhandled error", exc_info=error)
    return problem(500, "The server met an unexpected condition and could not answer.")


def finish_redirect(response: Response) -> Response:
    """Give a 3xx answer the registered phrase, and routing redirects a relative plain-text form.

    Werkzeug's routing redirects (/name -> /name/) and conditional answers
    (304) carry its upper-case phrases ("308 PERMANENT REDIRECT"); the
    redirects also point to an absolute URL built from the client's Host
    header, and have an HTML body that echoes the path.
    """
    code = response.status_code
    response.status = status_line(code)
    if response.mimetype == "text/html" and "Location" in response.headers:
        # RFC 9110 allows a relative Location: the path and query alone cannot
        # point at a host the client named (Host: evil.example), nor at none.
        target = urlsplit(response.headers["Location"])
        location = target.path + (f"?{target.query}" if target.query else "")
        response.headers["Location"] = location
        # No name goes out as HTML.
        response.set_data(f"Redirecting to {location}")
        response.mimetype = "text/plain"
    return response


def register_error_handlers(app: Flask) -> None:
    """Make `app` answer every error, expected or not, as problem+json.

    The app's response class must also pass 3xx answers through finish_redirect().
    """
    app.register_error_handler(Problem, problem_for)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
