"""The headers each status code needs, as plain data: no web framework is imported here."""

# The status route serves every method the service knows.
# Re-exported: the status route lists its methods from here.
from simple_flask_blueprint.core.http_facts import METHODS as METHODS

# Every header the status service may set that a browser script must be allowed
# to read across origins; the CORS configuration lists them in
# Access-Control-Expose-Headers.
EXPOSED_HEADERS: tuple[str, ...] = (
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "Allow",
    "Content-Range",
)

# Short, so that a client under test which honours it does not slow its suite down.
RETRY_AFTER_SECONDS = 1
WWW_AUTHENTICATE = 'Basic realm="simple_flask", charset="UTF-8"'
# RFC 9110 15.5.17: a 416 names the current length of the resource; this one is empty.
UNSATISFIED_RANGE = "bytes */0"


def needs_location(code: int) -> bool:
    """Tell whether a `code` response must say where it redirects: every 3xx but 304."""
    # A 304 revalidates a cached response; it redirects nowhere.
    return 300 <= code < 400 and code != 304


def allowed_methods(method: str) -> str:
    """Return the Allow value of a 405: every method of the route but the one refused.

    GET and HEAD count as one, so a HEAD gets the same headers as a GET (RFC 9110 9.3.2).
    """
    refused = {"GET", "HEAD"} if method in ("GET", "HEAD") else {method}
    return ", ".join(name for name in METHODS if name not in refused)


def status_headers(
    code: int, *, location: str, method: str, content_length: int
) -> list[tuple[str, str]]:
    """Return the headers a `code` response must carry, beyond Content-Type and Content-Length.

    `location` is the redirect target of a 3xx, `method` the request's method,
    `content_length` the length of the body the response carries.
    """
    if needs_location(code):
        return [("Location", location)]
    if code == 401:
        return [("WWW-Authenticate", WWW_AUTHENTICATE)]
    if code == 405:
        return [("Allow", allowed_methods(method))]
    if code in (429, 503):
        return [("Retry-After", str(RETRY_AFTER_SECONDS))]
    if code == 416:
        return [("Content-Range", UNSATISFIED_RANGE)]
    if code == 206 and content_length > 0:
        # RFC 9110 15.3.7: a single-part 206 must say which range it carries;
        # here the range is the whole body.
        return [("Content-Range", f"bytes 0-{content_length - 1}/{content_length}")]
    # 407 and 426 would need Proxy-Authenticate and Upgrade, hop-by-hop headers a
    # WSGI application may not send (PEP 3333); waitress answers 500 if one tries.
    return []
