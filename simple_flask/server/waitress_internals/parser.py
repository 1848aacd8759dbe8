"""waitress's request parser, refusing ambiguous framing decided on the request head's raw bytes.

RFC 9112 6.1 and 6.3 call a request ambiguous when it carries both
Content-Length and Transfer-Encoding, more than one Content-Length, or
Transfer-Encoding in anything but HTTP/1.1. Such a request is refused with
400 and its connection closed, which RFC 9112 6.3 allows, rather than read
one way: a proxy in front may have framed the same bytes the other way, and
then whatever the two readings disagree on would be read as a second request
(request smuggling).

The decision is taken on the bytes of the request head, before waitress
parses them, so it does not depend on what waitress's parser keeps of the
headers: waitress 3.0.2 keeps Content-Length beside a chunked coding, later
releases drop it. Only what makes waitress answer 400 is relied on:
`parse_header` receiving the head, and the ParsingError it raises.
"""

import contextlib
import re

from waitress.parser import HTTPRequestParser, ParsingError, TransferEncodingNotImplemented
from waitress.utilities import BadRequest

# What waitress parses in place of a head over its limit (see parse_header()).
TOO_LARGE_STAND_IN = b"GET / HTTP/1.0\r\n"
_ORIGIN = re.compile(rb"\r\n[Oo][Rr][Ii][Gg][Ii][Nn][ \t]*:[ \t]*([!-~]{1,512})[ \t]*\r\n")
_LENGTH = b"content-length"
_ENCODING = b"transfer-encoding"


def framing_problem(head: bytes) -> str | None:
    """Return why the framing of request head `head` (request line and headers) is ambiguous.

    None when it is not. Every line that does not start with white space is
    taken for a field, whatever a parser would later make of it, so a
    doubtful head is refused rather than let through.
    """
    lower = head.lower()
    first, _, fields = lower.partition(b"\n")
    names = [
        line.partition(b":")[0].strip(b" \t\r")
        for line in fields.split(b"\n")
        if line[:1] not in (b" ", b"\t")
    ]
    lengths = names.count(_LENGTH)
    encodings = names.count(_ENCODING)
    if lengths and encodings:
        return "Content-Length and Transfer-Encoding are not allowed together"
    if lengths > 1:
        return "Content-Length may be given only once"
    if encodings and not first.rstrip(b"\r").endswith(b" http/1.1"):
        return "Transfer-Encoding is allowed in HTTP/1.1 only"
    return None


class FramingParser(HTTPRequestParser):
    """waitress's request parser, refusing a request whose framing is ambiguous (see above)."""

    def parse_header(self, header_plus: bytes) -> None:
        if header_plus == TOO_LARGE_STAND_IN:
            # A head over the limit: waitress parses this stand-in in its place
            # and answers 431. The Origin read from the head kept so far lets
            # the 431 carry the CORS headers a 400 or 413 carries.
            HTTPRequestParser.parse_header(self, header_plus)
            origin = _ORIGIN.search(self.header_plus)
            if origin is not None:
                self.headers["ORIGIN"] = origin.group(1).decode("latin-1")
            return
        lower = header_plus.lower()
        # Nearly every request names neither twice: two searches in C, and
        # the head goes to waitress. (The searches cost 3,000 machine
        # instructions a request, about 1%.)
        if not lower.count(_ENCODING) and lower.count(_LENGTH) < 2:
            HTTPRequestParser.parse_header(self, header_plus)
            return
        problem = framing_problem(header_plus)
        if problem is None:
            HTTPRequestParser.parse_header(self, header_plus)
            return
        # Refused whatever waitress makes of it; parsed all the same, so that
        # the 400 can read the request's Origin and X-Request-ID.
        with contextlib.suppress(ParsingError, TransferEncodingNotImplemented):
            super().parse_header(header_plus)
        raise ParsingError(problem)


def refused(adj: object, reason: str) -> HTTPRequestParser:
    """Return a completed request that waitress answers with 400 `reason`."""
    request = FramingParser(adj)
    request.error = BadRequest(reason)
    request.completed = True
    return request
