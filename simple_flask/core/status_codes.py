"""The status service's codes and query values: the catalogue, and a parser for each value.

Every parser here refuses bad input with StatusError, whose message names the
broken rule; no other exception escapes them. No web framework is imported.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote

from simple_flask_blueprint.core.http_facts import status_phrase

from .errors import StatusError
from .errors import shown as _shown
from .status_faults import (
    RetryAfter,
    parse_headers,
    parse_retry_after,
    parse_truncate,
)

MIN_CODE = 200
MAX_CODE = 599
MAX_SEED_DIGITS = 20
MAX_LOCATION_LENGTH = 2000
# RFC 9110 forbids content in these responses: no body, so no Content-Type either.
NO_BODY_CODES = frozenset({204, 205, 304})

# Every registered code the service answers, with its reason phrase (from http.HTTPStatus).
CATALOGUE: tuple[tuple[int, str], ...] = tuple(
    (status.value, status.phrase) for status in HTTPStatus if MIN_CODE <= status <= MAX_CODE
)

# Patterns use [0-9], not \d or str.isdigit(): those accept digits of other
# scripts such as "٢٠٠", which int() would quietly read as 200.
_THREE_DIGITS = re.compile(r"[0-9]{3}")
_INTEGER = re.compile(r"-?[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
# C0 controls and DEL: browsers drop tabs and newlines inside URLs, so "/\t/evil.com"
# would become "//evil.com"; CR and LF would also split the header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What stays as it is in a Location path; everything else is percent-encoded.
_LOCATION_SAFE = "/?#@!$&'()*+,;=:%~"


def describe(code: int) -> dict[str, object]:
    """Return the JSON description of `code`: {"code": 404, "description": "Not Found"}."""
    return {"code": code, "description": status_phrase(code)}


def parse_code(text: str) -> int:
    """Return the status code written in `text`: three ASCII digits from 200 to 599."""
    if not _THREE_DIGITS.fullmatch(text):
        raise StatusError(
            f"a status code must be exactly three ASCII digits from {MIN_CODE} to {MAX_CODE}, "
            f"got {_shown(text)}"
        )
    code = int(text)
    if 100 <= code < 200:
        raise StatusError(
            f"1xx codes cannot be sent: a 1xx response is interim, and a WSGI application "
            f"can only send a final one, so the client would wait for another; got {code}"
        )
    if not MIN_CODE <= code <= MAX_CODE:
        raise StatusError(f"a status code must be from {MIN_CODE} to {MAX_CODE}, got {code}")
    return code


def parse_seed(text: str) -> int:
    """Return the seed written in `text`: an integer of at most 20 ASCII digits."""
    digits = text[1:] if text.startswith("-") else text
    if not (_INTEGER.fullmatch(text) and len(digits) <= MAX_SEED_DIGITS):
        raise StatusError(
            f"seed must be an integer of at most {MAX_SEED_DIGITS} digits, got {_shown(text)}"
        )
    return int(text)


def parse_sleep(text: str, max_sleep_ms: int, name: str = "sleep") -> int:
    """Return the delay in milliseconds written in `text`: an integer from 0 to `max_sleep_ms`.

    `name` is the query parameter's, for the error message: sleep or stall.
    """
    rule = f"{name} must be an integer number of milliseconds from 0 to {max_sleep_ms}"
    if not _DIGITS.fullmatch(text):
        raise StatusError(f"{rule}, got {_shown(text)}")
    # Leading zeros stripped, the length is compared before int() reads a huge number.
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(max_sleep_ms)) or int(significant) > max_sleep_ms:
        raise StatusError(f"{rule}, got {_shown(text)}")
    return int(significant)


def parse_location(text: str) -> str:
    """Return the redirect target written in `text`: a path on this host, percent-encoded."""
    if not text.startswith("/") or text.startswith("//"):
        raise StatusError(
            "location must be a path on this host: it must start with / and not with //, "
            f"got {_shown(text)}"
        )
    # Browsers read a backslash as a slash, so "/\\evil.com" would leave the host.
    if "\\" in text:
        raise StatusError(f"location must not hold a backslash, got {_shown(text)}")
    if _CONTROL.search(text):
        raise StatusError(f"location must not hold control characters, got {_shown(text)}")
    if len(text) > MAX_LOCATION_LENGTH:
        raise StatusError(
            f"location must be at most {MAX_LOCATION_LENGTH} characters long, got {len(text)}"
        )
    # Spaces and non-ASCII characters are sent percent-encoded (UTF-8), as in a URL.
    return quote(text, safe=_LOCATION_SAFE)


@dataclass(frozen=True)
class StatusQuery:
    """The validated query values of one status request."""

    sleep_ms: int = 0
    seed: int | None = None
    location: str | None = None
    # The faults on demand (see status_faults): None or empty when not asked for.
    stall_ms: int = 0
    truncate: int | None = None
    retry_after: RetryAfter | None = None
    headers: tuple[tuple[str, str], ...] = ()


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    """Return the one value of query parameter `name`, None if absent; refuse repeats."""
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(f"{name} may be given only once, got it {len(values)} times")
    return values[0]


def parse_query(args: Mapping[str, Sequence[str]], max_sleep_ms: int) -> StatusQuery:
    """Validate the query parameters sleep, seed, location and the faults'; others are ignored.

    `args` maps each parameter name to every value it was given. `?stall=`
    has the same cap as `?sleep=`.
    """
    sleep = _single(args, "sleep")
    seed = _single(args, "seed")
    location = _single(args, "location")
    stall = _single(args, "stall")
    truncate = _single(args, "truncate")
    retry_after = _single(args, "retry_after")
    return StatusQuery(
        sleep_ms=0 if sleep is None else parse_sleep(sleep, max_sleep_ms),
        seed=None if seed is None else parse_seed(seed),
        location=None if location is None else parse_location(location),
        stall_ms=0 if stall is None else parse_sleep(stall, max_sleep_ms, "stall"),
        truncate=None if truncate is None else parse_truncate(truncate),
        retry_after=None if retry_after is None else parse_retry_after(retry_after),
        headers=parse_headers(args.get("header") or ()),
    )
