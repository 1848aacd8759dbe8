"""The options of a status answer: how late, how large, how fast, cut where, with what Retry-After.

An entry of a status list may carry options after its code or fault word,
each `;name=value` (`/status/503;retry_after=2,200`); the query parameters
of the same names give the default of every entry, and an entry's own
option wins. This module holds the one parser of their values, for both
places. Every rule refuses bad input with StatusError naming it; no other
exception escapes. No web framework is imported here.
"""

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

from .errors import StatusError, shown
from .status_codes import NO_BODY_CODES
from .status_faults import RetryAfter, parse_retry_after, parse_truncate

# The options, in the order an entry's canonical text lists them.
OPTION_NAMES = ("sleep", "stall", "truncate", "retry_after", "size", "rate")
# A body of `size` bytes repeats this line: deterministic, printable, and a
# reader can tell where in the body a byte is (64 characters and a newline a line).
SIZE_PATTERN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\n"
# Patterns use [0-9], not \d or str.isdigit(): those accept digits of other
# scripts such as "٢٠٠", which int() would quietly read as 200.
_DIGITS = re.compile(r"[0-9]+")
# Past this many significant digits a number is over every cap; int() is not
# asked to read it (it refuses numbers of over 4,300 digits).
MAX_DIGITS = 15


@dataclass(frozen=True)
class Limits:
    """How far the options may go, from the settings: the longest delay, the largest body."""

    max_sleep_ms: int = 10_000
    max_size: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Span:
    """A delay in milliseconds: one value, or a range from `low` to `high` picked uniformly."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}..{self.high}"

    def pick(self, source: random.Random) -> int:
        """Return the delay of one answer: the value, or a uniform pick from `source`."""
        return self.low if self.low == self.high else source.randint(self.low, self.high)


@dataclass(frozen=True)
class Options:
    """The options of one entry, or of one request's query: None where not given."""

    sleep: Span | None = None
    stall: Span | None = None
    truncate: int | None = None
    retry_after: RetryAfter | None = None
    size: int | None = None
    rate: int | None = None

    def over(self, defaults: "Options") -> "Options":
        """Return these options with each one not given taken from `defaults`."""
        if not defaults:
            return self
        if not self:
            return defaults
        taken = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if getattr(self, field.name) is not None
        }
        return replace(defaults, **taken)

    def __bool__(self) -> bool:
        return self != NO_OPTIONS

    def __str__(self) -> str:
        """The options as an entry writes them, in a fixed order: ";sleep=5;size=10", or ""."""
        return "".join(
            f";{name}={value}"
            for name in OPTION_NAMES
            if (value := getattr(self, name)) is not None
        )


NO_OPTIONS = Options()


def _number(text: str) -> int | None:
    """Return the whole number written in `text` in ASCII digits; None if it is none, or huge."""
    if not _DIGITS.fullmatch(text):
        return None
    significant = text.lstrip("0") or "0"
    return None if len(significant) > MAX_DIGITS else int(significant)


def _span(name: str, text: str, limits: Limits) -> Span:
    """Return the delay written in `text`: "<ms>" or "<min>..<max>", each within the cap."""
    low_text, dots, high_text = text.partition("..")
    low = _number(low_text)
    high = _number(high_text) if dots else low
    if low is None or high is None or not low <= high <= limits.max_sleep_ms:
        raise StatusError(
            f"{name} must be a whole number of milliseconds from 0 to {limits.max_sleep_ms}, "
            f"or a range <min>..<max> within it, got {shown(text)}"
        )
    return Span(low, high)


def _size(text: str, limits: Limits) -> int:
    size = _number(text)
    if size is None or size > limits.max_size:
        raise StatusError(
            f"size must be a whole number of bytes from 0 to {limits.max_size}, got {shown(text)}"
        )
    return size


def _rate(text: str, limits: Limits) -> int:
    rate = _number(text)
    if rate is None or rate < 1:
        raise StatusError(
            f"rate must be a whole number of bytes per second, at least 1, got {shown(text)}"
        )
    return rate


def parse_option(name: str, text: str, limits: Limits) -> object:
    """Return the value of option `name` written in `text`."""
    if name in ("sleep", "stall"):
        return _span(name, text, limits)
    if name == "truncate":
        return parse_truncate(text)
    if name == "retry_after":
        return parse_retry_after(text)
    if name == "size":
        return _size(text, limits)
    if name == "rate":
        return _rate(text, limits)
    raise StatusError(
        f"there is no option {shown(name)}; the options are {', '.join(OPTION_NAMES)}"
    )


def parse_options(texts: Sequence[str], limits: Limits) -> Options:
    """Return the options written in `texts`, each "name=value"; each name at most once."""
    values: dict[str, object] = {}
    for text in texts:
        name, equals, value = text.partition("=")
        if not equals:
            raise StatusError(f"an option is written name=value, got {shown(text)}")
        parsed = parse_option(name, value, limits)
        if name in values:
            raise StatusError(f"option {name} may be given only once in an entry")
        values[name] = parsed
    return Options(**values)  # type: ignore[arg-type]


def query_options(args: Mapping[str, Sequence[str]], limits: Limits) -> Options:
    """Return the options a request's query gives every entry; each parameter at most once."""
    values: dict[str, object] = {}
    for name in OPTION_NAMES:
        given = args.get(name)
        if not given:
            continue
        if len(given) > 1:
            raise StatusError(f"{name} may be given only once, got it {len(given)} times")
        values[name] = parse_option(name, given[0], limits)
    return Options(**values) if values else NO_OPTIONS  # type: ignore[arg-type]


def check_answer(options: Options, code: int, body_length: int, limits: Limits) -> None:
    """Refuse options that an answer `code` with a body of `body_length` bytes cannot take.

    A body fault or size needs a body (204, 205 and 304 have none); truncate
    cuts short of the end; a paced body is sent within the longest delay.
    """
    bodiless = code in NO_BODY_CODES
    if bodiless or body_length == 0:
        for name in (
            ("truncate", "stall", "rate", "size") if bodiless else ("truncate", "stall", "rate")
        ):
            if getattr(options, name) is not None:
                raise StatusError(
                    f"{name} needs an answer with a body, and this {code} answer has none"
                )
    if options.truncate is not None and options.truncate >= body_length:
        raise StatusError(
            f"truncate must be from 0 to {body_length - 1}, one less than the length of the "
            f"body it cuts ({body_length} bytes for this {code} answer), got {options.truncate}"
        )
    if options.rate is not None:
        sent = body_length if options.truncate is None else options.truncate
        if sent * 1000 > options.rate * limits.max_sleep_ms:
            raise StatusError(
                f"rate must send the body within {limits.max_sleep_ms} ms: {sent} bytes need "
                f"at least {-(-sent * 1000 // limits.max_sleep_ms)} bytes per second, "
                f"got {options.rate}"
            )


def picked(options: Options, source: random.Random) -> Options:
    """Return `options` with each delay range replaced by the one value `source` picks."""
    sleep, stall = options.sleep, options.stall
    if (sleep is None or sleep.low == sleep.high) and (stall is None or stall.low == stall.high):
        return options
    return replace(
        options,
        sleep=None if sleep is None else _fixed(sleep.pick(source)),
        stall=None if stall is None else _fixed(stall.pick(source)),
    )


def _fixed(milliseconds: int) -> Span:
    return Span(milliseconds, milliseconds)


def sized_body(size: int) -> bytes:
    """Return a body of exactly `size` bytes: SIZE_PATTERN, repeated and cut."""
    whole, rest = divmod(size, len(SIZE_PATTERN))
    return SIZE_PATTERN * whole + SIZE_PATTERN[:rest]
