"""The query values of a status request: a seed, a redirect's location, custom headers, options.

Every parser here refuses bad input with StatusError, whose message names the
broken rule; no other exception escapes them. No web framework is imported.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from .errors import StatusError
from .errors import shown as _shown
from .options import NO_OPTIONS, Limits, Options, query_options
from .status_faults import parse_headers

MAX_SEED_DIGITS = 20
MAX_LOCATION_LENGTH = 2000
# Patterns use [0-9], not \d or str.isdigit(): those accept digits of other
# scripts such as "٢٠٠", which int() would quietly read as 200.
_INTEGER = re.compile(r"-?[0-9]+")
# C0 controls and DEL: browsers drop tabs and newlines inside URLs, so "/\t/evil.com"
# would become "//evil.com"; CR and LF would also split the header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What stays as it is in a Location path; everything else is percent-encoded.
_LOCATION_SAFE = "/?#@!$&'()*+,;=:%~"


def parse_seed(text: str) -> int:
    """Return the seed written in `text`: an integer of at most 20 ASCII digits."""
    digits = text[1:] if text.startswith("-") else text
    if not (_INTEGER.fullmatch(text) and len(digits) <= MAX_SEED_DIGITS):
        raise StatusError(
            f"seed must be an integer of at most {MAX_SEED_DIGITS} digits, got {_shown(text)}"
        )
    return int(text)


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

    seed: int | None = None
    location: str | None = None
    # The custom headers of ?header= (see status_faults).
    headers: tuple[tuple[str, str], ...] = ()
    # The options every entry takes unless it gives its own (see options).
    options: Options = NO_OPTIONS


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    """Return the one value of query parameter `name`, None if absent; refuse repeats."""
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(f"{name} may be given only once, got it {len(values)} times")
    return values[0]


def parse_query(args: Mapping[str, Sequence[str]], limits: Limits) -> StatusQuery:
    """Validate the query parameters seed, location, header and the options; others are ignored.

    `args` maps each parameter name to every value it was given.
    """
    seed = _single(args, "seed")
    location = _single(args, "location")
    return StatusQuery(
        seed=None if seed is None else parse_seed(seed),
        location=None if location is None else parse_location(location),
        headers=parse_headers(args.get("header") or ()),
        options=query_options(args, limits),
    )
