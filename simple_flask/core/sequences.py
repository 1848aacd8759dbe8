"""Failure sequences: a fixed order of answers under a key, as pure rules and a store interface.

`/status/503,503,200?sequence=k` makes the list a sequence: the n-th request
carrying key `k` gets the n-th entry, and after the last the last repeats.
This module holds the rules of the key and the report, and the interface
every store keeps (`SequenceStore`); the entries, their binding and the entry
of attempt n are core.entries', the stores live in simple_flask.state, and the
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

from .entries import entry_at, parse_list
from .errors import StatusError, shown

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


def parse_key(text: str) -> str:
    """Return `text` as a sequence key, or raise StatusError naming the rule."""
    if not _KEY.fullmatch(text) or text in _DOT_SEGMENTS:
        raise StatusError(f"{KEY_RULE}, got {shown(text, 70)}")
    return text


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
    entries = parse_list(record.bound, in_order=True)
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
