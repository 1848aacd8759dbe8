"""Failure sequences: a fixed order of answers under a key, as pure rules and a store interface.

`/status/503,503,200?sequence=k` makes the list a sequence: the n-th request
carrying key `k` gets the n-th entry, and after the last the last repeats.
This module holds the rules alone (the key, the entries, the binding of a
key to its list, the entry of attempt n) and the interface every store keeps
(`SequenceStore`); the stores themselves live in simple_flask.state, and the
views in simple_flask.rest. No web framework is imported here.

Design: a store only counts. It binds a key to the canonical text of its list
and hands out attempt numbers, atomically; which entry an attempt gets is
worked out here from that number. So the one thing replicas must agree on is
a counter, which Redis can take in one round trip, and what each attempt
served never has to be stored: it follows from its number.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from .status_codes import StatusError, parse_code, split_list
from .status_faults import CONNECTION_FAULTS, Fault

MAX_KEY_LENGTH = 64
# The attempts a sequence remembers for GET /status/sequences/<key>.
MAX_HISTORY = 100
# The header every answer of a sequence carries: 1 for the first attempt.
ATTEMPT_HEADER = "X-Sequence-Attempt"
# RFC 3986's unreserved characters: a key reads the same in a path and a query.
_KEY = re.compile(rf"[A-Za-z0-9._~-]{{1,{MAX_KEY_LENGTH}}}")
# "." and ".." are dot segments: clients remove them from a path, so such a
# key could be used but its report at /status/sequences/<key> never reached.
_DOT_SEGMENTS = frozenset({".", ".."})
KEY_RULE = (
    f"a sequence key must be 1 to {MAX_KEY_LENGTH} characters of A-Z a-z 0-9 . _ ~ -, "
    "and not . or .."
)


class SequenceConflict(Exception):
    """A key already bound to one list was used with another; answered 409."""

    def __init__(self, key: str, bound: str, asked: str):
        super().__init__(
            f"sequence key {key!r} is bound to the list {bound}; "
            f"this request asks for {asked}. Use another key, or DELETE "
            f"/status/sequences/{key} first"
        )
        self.key = key
        self.bound = bound
        self.asked = asked


class StoreUnavailable(Exception):
    """The sequence store cannot be reached; answered 503, never with a guessed entry."""


@dataclass(frozen=True)
class Entry:
    """One answer of a sequence: a status code, or a connection fault (`reset`, `close`).

    A dataclass around the value, so that what the stores keep stays the
    canonical text of the list, whatever kinds of answer join later.
    """

    value: int | Fault

    @property
    def code(self) -> int | Fault:
        """The code to answer, or the Fault to answer with instead."""
        return self.value

    def __str__(self) -> str:
        return str(self.value)


def _shown(text: str, limit: int = 70) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f" ({len(text)} characters)"


def parse_key(text: str) -> str:
    """Return `text` as a sequence key, or raise StatusError naming the rule."""
    if not _KEY.fullmatch(text) or text in _DOT_SEGMENTS:
        raise StatusError(f"{KEY_RULE}, got {_shown(text)}")
    return text


def parse_entry(text: str) -> Entry:
    """Return the entry written in `text`: a status code or a connection fault, without a weight."""
    if ":" in text:
        raise StatusError(
            f"a sequence is served in order, so its entries take no weights, got {_shown(text)}"
        )
    fault = CONNECTION_FAULTS.get(text)
    return Entry(fault if fault is not None else parse_code(text))


def parse_entries(text: str) -> tuple[Entry, ...]:
    """Return the entries of the list `text` ("503,503,200") read as a sequence."""
    parts = split_list(text, example="503,200")
    count = len(parts)
    entries = []
    for position, part in enumerate(parts, start=1):
        try:
            entries.append(parse_entry(part))
        except StatusError as error:
            if count == 1:
                raise
            raise StatusError(f"entry {position} of the sequence: {error}") from None
    return tuple(entries)


def binding(entries: Sequence[Entry]) -> str:
    """Return the canonical text of `entries`, the list a key is bound to."""
    return ",".join(map(str, entries))


def entry_at(entries: Sequence[Entry], attempt: int) -> Entry:
    """Return the entry attempt number `attempt` (1 for the first) gets; the last repeats."""
    if attempt < 1:
        raise ValueError(f"attempts are numbered from 1, got {attempt}")
    return entries[min(attempt, len(entries)) - 1]


def parse_sequence_query(args: Mapping[str, Sequence[str]]) -> str | None:
    """Return the ?sequence= key of a status request, None if absent; refuse it with ?seed=."""
    values = args.get("sequence")
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(f"sequence may be given only once, got it {len(values)} times")
    if args.get("seed"):
        raise StatusError(
            "seed and sequence cannot be combined: a sequence is served in order, not at random"
        )
    return parse_key(values[0])


@dataclass(frozen=True)
class Taken:
    """The attempt a store handed out: its number, and the list the key is bound to."""

    number: int
    bound: str


@dataclass(frozen=True)
class Record:
    """What a store knows of one key: its list, its attempts so far, the latest ones' times.

    `times` holds the epoch seconds of the last len(times) attempts, oldest
    first; they are attempts `count - len(times) + 1` to `count`.
    """

    bound: str
    count: int
    times: tuple[float, ...]


class SequenceStore(Protocol):
    """Where sequences live: the process's memory, or Redis shared by replicas.

    Every method raises StoreUnavailable when the store cannot be reached.
    """

    def take(self, key: str, bound: str) -> Taken:
        """Bind `key` to `bound` if new, and hand out its next attempt number, atomically.

        Raises SequenceConflict when `key` is bound to another list.
        """

    def record(self, key: str) -> Record | None:
        """Return what the store knows of `key`, None if nothing."""

    def forget(self, key: str) -> bool:
        """Forget `key`; tell whether it was known."""

    def ping(self) -> None:
        """Return when the store answers; raise StoreUnavailable otherwise."""


def _utc(seconds: float) -> str:
    """Write epoch `seconds` as an RFC 3339 UTC time with milliseconds."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def report(key: str, record: Record) -> dict[str, object]:
    """Return the JSON report of a sequence: its entries and its latest attempts."""
    entries = [parse_entry(text) for text in record.bound.split(",")]
    first = record.count - len(record.times) + 1
    attempts = []
    previous = None
    for number, at in enumerate(record.times, start=first):
        attempts.append(
            {
                "attempt": number,
                "served": str(entry_at(entries, number)),
                "at": _utc(at),
                # None for the first attempt kept: the one before is not known.
                "since_previous_ms": None if previous is None else round((at - previous) * 1000),
            }
        )
        previous = at
    return {
        "key": key,
        "entries": [str(entry) for entry in entries],
        "attempts_total": record.count,
        "attempts": attempts,
    }
