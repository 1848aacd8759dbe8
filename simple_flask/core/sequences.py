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
from typing import NamedTuple, Protocol

from .entries import entry_at
from .errors import StatusError, shown

MAX_KEY_LENGTH = 64
# The attempts a sequence remembers for GET /status/sequences/<key>.
MAX_HISTORY = 100
# The most keys GET /status/sequences/ lists, the most recently used first.
LISTED_KEYS = 100
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
    """Return the ?sequence= key of a status request, None if absent.

    A sequence is served in order: with it, ?seed= only makes the picks of
    delay ranges repeatable.
    """
    values = args.get("sequence")
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(f"sequence may be given only once, got it {len(values)} times")
    return parse_key(values[0])


@dataclass(frozen=True)
class Taken:
    """The attempt a store handed out: its number, and the list the key is bound to."""

    number: int
    bound: str


class Attempt(NamedTuple):
    """One attempt a store recorded: when (epoch seconds), the method, and what was sent.

    A tuple, not a dataclass: a memory store keeps up to MAX_HISTORY of them
    for each of thousands of sequences.
    """

    at: float
    method: str
    sent: str


@dataclass(frozen=True)
class Record:
    """What a store knows of one key: its list, its attempts so far, the latest ones.

    `attempts` holds the last len(attempts) attempts, oldest first; they are
    attempts `count - len(attempts) + 1` to `count`.
    """

    bound: str
    count: int
    attempts: tuple[Attempt, ...]


class SequenceStore(Protocol):
    """Where sequences live: the process's memory, or Redis shared by replicas.

    Every method raises StoreUnavailable when the store cannot be reached.
    """

    def take(self, key: str, bound: str, sent: Sequence[str], method: str) -> Taken:
        """Bind `key` to `bound` if new, and hand out its next attempt number, atomically.

        The attempt is recorded with `method` and what it sends: sent[n - 1]
        for attempt n, the last one from there on. Raises SequenceConflict
        when `key` is bound to another list.
        """

    def record(self, key: str) -> Record | None:
        """Return what the store knows of `key`, None if nothing."""

    def keys(self, limit: int) -> list[str]:
        """Return the keys the store holds, the most recently used first, at most `limit`."""

    def forget(self, key: str) -> bool:
        """Forget `key`; tell whether it was known."""

    def forget_all(self) -> int:
        """Forget every key; return how many there were."""

    def ping(self) -> None:
        """Return when the store answers; raise StoreUnavailable otherwise."""


def _utc(seconds: float) -> str:
    """Write epoch `seconds` as an RFC 3339 UTC time with milliseconds."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def report(key: str, record: Record) -> dict[str, object]:
    """Return the JSON report of a sequence: its entries and its latest attempts.

    Each attempt names the entry it was served (`served`, as listed) and what
    was really sent (`sent`: the query's options applied, delays picked).
    """
    # The bound list is canonical text (entries.binding()): its entries are
    # read back by splitting, not parsed again, whose limits the app's
    # settings may have raised.
    entries = record.bound.split(",")
    first = record.count - len(record.attempts) + 1
    attempts = []
    previous = None
    for number, attempt in enumerate(record.attempts, start=first):
        at = attempt.at
        attempts.append(
            {
                "attempt": number,
                "method": attempt.method,
                "served": entry_at(entries, number),
                "sent": attempt.sent,
                "at": _utc(at),
                # None for the first attempt kept: the one before is not known.
                "since_previous_ms": None if previous is None else round((at - previous) * 1000),
            }
        )
        previous = at
    return {
        "key": key,
        "entries": entries,
        "attempts_total": record.count,
        "attempts": attempts,
    }
