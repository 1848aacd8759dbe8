"""The headers each status code needs, as plain data: no web framework is imported here."""

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
