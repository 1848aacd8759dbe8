"""The status service's faults on demand: their names, and the parsers of their values.

A status request may ask for a broken answer, to test how a client copes:
a connection dropped with no answer (`reset`, `close`) or a malformed answer
(`garbage`, `bad_chunk`, `cut_head`), entries of the code list; a body cut
short (`truncate`) or late (`stall`), a Retry-After of its choosing
(`retry_after`) and headers of its own (`?header=`). Every parser here
refuses bad input with StatusError, naming the broken rule; no other
exception escapes them. No web framework is imported.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from enum import Enum

from .errors import StatusError, shown


class Fault(str, Enum):
    """A fault a status answer carries; the value is its name in URLs and in the access log."""

    # Connection faults: no byte of an answer is sent.
    RESET = "reset"  # the connection is reset (TCP RST)
    CLOSE = "close"  # the connection is closed cleanly (FIN)
    # Malformed answers, then a close.
    GARBAGE = "garbage"  # bytes that are no HTTP answer
    BAD_CHUNK = "bad_chunk"  # a chunked 200 whose chunk no client can parse
    CUT_HEAD = "cut_head"  # the status line and part of the head
    # Body faults: the status line and headers are sent as usual.
    TRUNCATE = "truncate"  # fewer body bytes than Content-Length says, then a close
    STALL = "stall"  # the body after a delay

    def __str__(self) -> str:
        return self.value


# The faults a code list may name in place of a code: the server answers them
# itself, in place of the app's answer.
ENTRY_FAULTS: dict[str, Fault] = {
    fault.value: fault
    for fault in (Fault.RESET, Fault.CLOSE, Fault.GARBAGE, Fault.BAD_CHUNK, Fault.CUT_HEAD)
}

MAX_RETRY_AFTER = 86_400
RETRY_AFTER_DATE = "date:"
RETRY_AFTER_NONE = "none"
MAX_HEADERS = 20
MAX_HEADER_VALUE = 1024
MAX_HEADER_NAME = 256
# The custom headers of one answer take at most this many bytes of its head
# (each "Name: Value" and its line end), so that with everything else the
# service sends the head stays under 4 KiB: nginx's default proxy buffer, past
# which a proxy counts the replica as failed (tests/test_scenarios_server.py).
MAX_HEADER_BYTES = 2048
# RFC 9110 5.6.2: a header name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII, space and tab: nothing that could end the header line.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
MAX_TRUNCATE = 999_999_999
_DIGITS = re.compile(r"[0-9]{1,9}")
_RETRY_SECONDS = re.compile(r"[0-9]{1,5}")
# Headers a test may not set, by lower-case name, each with the reason given.
_FRAMING = "a hop-by-hop or framing header, which the server alone sets"
_PROXY = "a proxy in front would act on it"
_HOST_STATE = "a browser would keep it for the whole host, beyond this answer"
REFUSED_HEADERS: dict[str, str] = {
    **dict.fromkeys(
        (
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "trailers",
            "transfer-encoding",
            "upgrade",
            "content-length",
        ),
        _FRAMING,
    ),
    "set-cookie": "cookies are not set on demand",
    "content-type": "the answer's type follows the Accept header",
    "x-content-type-options": "nosniff is always sent",
    # Both would let a link to this host redirect anywhere; ?location= is a path on this host.
    "location": "an open redirect; use ?location= for a path on this host",
    "refresh": "an open redirect; use ?location= for a path on this host",
    "retry-after": "use ?retry_after=",
    "x-request-id": "the server sets it to the request's id",
    # A proxy or CDN in front acts on these: one client's answer would change
    # what the proxy does, or what it serves to other clients.
    **dict.fromkeys(
        (
            "x-sendfile",
            "x-lighttpd-send-file",
            "x-lighttpd-send-tempfile",
            "surrogate-control",
            "cdn-cache-control",
        ),
        _PROXY,
    ),
    # A browser keeps these for the whole host, beyond this one answer:
    # another page of the host would lose its cookies (Clear-Site-Data), be
    # pinned to HTTPS, report elsewhere or be sent to another server.
    **dict.fromkeys(
        (
            "clear-site-data",
            "strict-transport-security",
            "nel",
            "report-to",
            "reporting-endpoints",
            "alt-svc",
            "set-cookie2",
            "public-key-pins",
            "public-key-pins-report-only",
            "expect-ct",
            "origin-agent-cluster",
            "accept-ch",
            "critical-ch",
            "service-worker-allowed",
            "set-login",
        ),
        _HOST_STATE,
    ),
}
# Prefixes refused the same way: every Proxy-* and CORS header, and the
# controls nginx and LiteSpeed take from an upstream.
REFUSED_PREFIXES: dict[str, str] = {
    "proxy-": _FRAMING,
    "access-control-": "CORS headers follow the server's CORS settings",
    "x-accel-": _PROXY,
    "x-litespeed-": _PROXY,
}


@dataclass(frozen=True)
class RetryAfter:
    """A Retry-After asked for: none at all, or `seconds` from now, as a number or an HTTP-date."""

    seconds: int | None
    as_date: bool = False

    def header(self, departure: float) -> str | None:
        """Return the Retry-After of an answer leaving at `departure` (a time.time() value).

        None for none. An HTTP-date has whole seconds: it is rounded up, so
        that at least `seconds` remain when the answer leaves.
        """
        if self.seconds is None:
            return None
        if self.as_date:
            return formatdate(math.ceil(departure + self.seconds), usegmt=True)
        return str(self.seconds)

    def __str__(self) -> str:
        """The value as a request writes it: "none", "<seconds>" or "date:<seconds>"."""
        if self.seconds is None:
            return RETRY_AFTER_NONE
        return f"{RETRY_AFTER_DATE}{self.seconds}" if self.as_date else str(self.seconds)


def parse_retry_after(text: str) -> RetryAfter:
    """Return the Retry-After written in `text`: "none", "<seconds>" or "date:<seconds>"."""
    if text == RETRY_AFTER_NONE:
        return RetryAfter(None)
    as_date = text.startswith(RETRY_AFTER_DATE)
    seconds = text[len(RETRY_AFTER_DATE) :] if as_date else text
    if not _RETRY_SECONDS.fullmatch(seconds) or int(seconds) > MAX_RETRY_AFTER:
        raise StatusError(
            f"retry_after must be a whole number of seconds from 0 to {MAX_RETRY_AFTER} "
            f"(at most 5 digits), date:<seconds> for an HTTP-date that far ahead, or none; "
            f"got {shown(text)}"
        )
    return RetryAfter(int(seconds), as_date)


def parse_truncate(text: str) -> int:
    """Return the number of body bytes written in `text`: at most 9 ASCII digits."""
    if not _DIGITS.fullmatch(text):
        raise StatusError(
            f"truncate must be a whole number of bytes (at most 9 digits), got {shown(text)}"
        )
    return int(text)


def check_body_fault(name: str, code: int, body_length: int, truncate: int | None) -> None:
    """Refuse a body fault `name` on an answer without a body, or a cut past its end.

    `body_length` is the length of the `code` answer's body; `truncate` the
    bytes ?truncate= keeps, if it was given.
    """
    if body_length == 0:
        raise StatusError(f"{name} needs an answer with a body, and a {code} answer has none")
    if truncate is not None and truncate >= body_length:
        raise StatusError(
            f"truncate must be from 0 to {body_length - 1}, one less than the length of the "
            f"body it cuts ({body_length} bytes for this {code} answer), got {truncate}"
        )


def _refusal(lower: str) -> str | None:
    """Return why a custom header named `lower` (lower case) is refused, or None."""
    reason = REFUSED_HEADERS.get(lower)
    if reason is not None:
        return reason
    for prefix, reason in REFUSED_PREFIXES.items():
        if lower.startswith(prefix):
            return reason
    return None


def parse_header(text: str) -> tuple[str, str]:
    """Return the (name, value) of a custom header written as "Name:Value"."""
    name, colon, value = text.partition(":")
    if not colon or not _TOKEN.fullmatch(name) or len(name) > MAX_HEADER_NAME:
        raise StatusError(
            f"header must be Name:Value, the name an HTTP token of at most {MAX_HEADER_NAME} "
            f"letters, digits and !#$%&'*+-.^_`|~, got {shown(text)}"
        )
    reason = _refusal(name.lower())
    if reason is not None:
        raise StatusError(f"header {name} may not be set: {reason}")
    # Leading and trailing whitespace is not part of a field value (RFC 9110 5.5).
    value = value.strip(" \t")
    if len(value) > MAX_HEADER_VALUE or not _FIELD_VALUE.fullmatch(value):
        raise StatusError(
            f"the value of header {name} must be at most {MAX_HEADER_VALUE} characters of "
            f"visible ASCII, space and tab, got {shown(value)}"
        )
    return name, value


def parse_headers(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Return the custom headers written in `texts`, each "Name:Value"; at most 20."""
    if len(texts) > MAX_HEADERS:
        raise StatusError(f"at most {MAX_HEADERS} headers may be given, got {len(texts)}")
    headers = tuple(parse_header(text) for text in texts)
    # The name counts twice: it is also listed in Access-Control-Expose-Headers.
    size = sum(2 * len(name) + len(value) + 6 for name, value in headers)
    if size > MAX_HEADER_BYTES:
        raise StatusError(
            f"the headers may take at most {MAX_HEADER_BYTES} bytes of the answer's head "
            f"(each name twice, its value and 6 more), got {size}"
        )
    return headers
