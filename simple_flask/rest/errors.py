"""Error handling for the root app: every error is answered as problem+json."""

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException

from simple_flask_blueprint.rest import problem


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


def plain_redirect(response: Response) -> Response:
    """Give Werkzeug's routing redirects (/name -> /name/) a plain-text body instead of HTML."""
    # The HTML body would echo the requested path; no name goes out as HTML.
    # (The status is compared first: mimetype parses the Content-Type header.)
    if 300 <= response.status_code < 400 and response.mimetype == "text/html":
        response.set_data(f"Redirecting to {response.location}")
        response.mimetype = "text/plain"
    return response


def register_error_handlers(app: Flask) -> None:
    """Make `app` answer every error, expected or not, as problem+json.

    The app's after_request function must also pass redirects through plain_redirect().
    """
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
