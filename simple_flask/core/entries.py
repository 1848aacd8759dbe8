"""The entries of a status list: one type, one parser, for weighted lists and sequences alike.

`/status/<list>` names one or more entries, comma-separated. An entry is a
status code or a fault word (`reset`, `close`, `garbage`, `bad_chunk`,
`cut_head`), then an optional `:weight`, then any number of `;name=value`
options (core/options.py): `/status/200:0.9,200:0.1;sleep=2000`. Without
`?sequence=` one entry is picked per request by relative weight (choose());
with it the list is served in order, so its entries take no weights. Every
rule refuses bad input with StatusError naming it; no other exception
escapes. No web framework is imported here.
"""

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .errors import StatusError, shown
from .options import NO_OPTIONS, Limits, Options, parse_options
from .options import picked as picked_options
from .status_codes import MAX_CODE, MIN_CODE, parse_code
from .status_faults import ENTRY_FAULTS, Fault

MAX_ENTRIES = 50
# An entry, or its text (core/sequences.py reads a bound list as text).
T = TypeVar("T")
# Digits and at most one point: no sign, exponent, nan or inf.
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


# Options that shape an answer's body or headers: a fault entry has neither.
_ANSWER_OPTIONS = ("stall", "truncate", "retry_after", "size", "rate")
_DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Entry:
    """One entry of a status list: the code or fault to answer, its weight, its options."""

    outcome: int | Fault
    weight: float = 1.0
    options: Options = NO_OPTIONS

    def __str__(self) -> str:
        """The entry as a sequence binds it, without its weight: "503;retry_after=2"."""
        return f"{self.outcome}{self.options}"


# The most common list, one code alone, answered without parsing.
_SINGLE = {str(code): (Entry(code),) for code in range(MIN_CODE, MAX_CODE + 1)}


def split_list(text: str, example: str) -> list[str]:
    """Return the comma-separated parts of `text`: 1 to MAX_ENTRIES, else StatusError.

    `example` is a list the error for an empty one suggests.
    """
    if not text:
        raise StatusError(f"the list of status codes is empty; give one such as {example}")
    # Counted before splitting, so a huge list costs no more than its length.
    count = text.count(",") + 1
    if count > MAX_ENTRIES:
        raise StatusError(f"at most {MAX_ENTRIES} status codes may be listed, got {count}")
    return text.split(",")


def _outcome(text: str) -> int | Fault:
    """Return the fault word or the status code written in `text`."""
    fault = ENTRY_FAULTS.get(text)
    return fault if fault is not None else parse_code(text)


def _weight(outcome: int | Fault, text: str) -> float:
    """Return the weight written in `text`: a finite decimal number >= 0."""
    # float() still turns a long enough run of digits into inf, hence the check after it.
    weight = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(weight):
        raise StatusError(
            f"the weight of {outcome} must be a finite decimal number >= 0 such as 0.25 "
            f"(digits and at most one point), got {shown(text)}"
        )
    return weight


def parse_entry(text: str, in_order: bool, limits: Limits = _DEFAULT_LIMITS) -> Entry:
    """Return the entry written in `text`; `in_order` for a sequence's, which take no weight."""
    head, *option_texts = text.split(";")
    outcome_text, colon, weight_text = head.partition(":")
    if colon and in_order:
        raise StatusError(
            f"a sequence is served in order, so its entries take no weights, got {shown(text, 70)}"
        )
    outcome = _outcome(outcome_text)
    options = parse_options(option_texts, limits) if option_texts else NO_OPTIONS
    if isinstance(outcome, Fault):
        shaping = [name for name in _ANSWER_OPTIONS if getattr(options, name) is not None]
        if shaping:
            raise StatusError(
                f"{outcome} sends no answer of the app's, so it takes no {shaping[0]}; "
                f"a fault entry takes sleep alone"
            )
    return Entry(outcome, _weight(outcome, weight_text) if colon else 1.0, options)


def parse_list(
    text: str, in_order: bool = False, limits: Limits = _DEFAULT_LIMITS
) -> tuple[Entry, ...]:
    """Return the entries of the list `text`, such as "200:0.9,500:0.1" or "503,503,200".

    `in_order` reads it as a sequence. A weighted list must weigh more than 0
    in all; entries of weight 0 are kept, and are never chosen. `limits`
    bound the options' values.
    """
    single = _SINGLE.get(text)
    if single is not None:
        return single
    noun = "sequence" if in_order else "list"
    parts = split_list(text, example="503,200" if in_order else "200")
    entries = []
    for position, part in enumerate(parts, start=1):
        if not part:
            whole = "sequence" if in_order else "list of status codes"
            raise StatusError(f"entry {position} of the {whole} is empty")
        try:
            entries.append(parse_entry(part, in_order, limits))
        except StatusError as error:
            if len(parts) == 1:
                raise
            named = shown(part)
            raise StatusError(f"entry {position} ({named}) of the {noun}: {error.detail}") from None
    total = sum(entry.weight for entry in entries)
    if not total > 0:
        raise StatusError("the weights must add up to more than 0")
    if not math.isfinite(total):
        raise StatusError("the weights must add up to a finite number")
    return tuple(entries)


# The choice without a seed: SystemRandom keeps no state of its own, so
# threads serving requests at once share nothing mutable.
_UNSEEDED = random.SystemRandom()


def source_of(seed: int | None) -> random.Random:
    """Return the random source of one request: its own, seeded, or one shared by all."""
    # A new generator per seeded request: reproducible, and nothing shared between threads.
    return _UNSEEDED if seed is None else random.Random(seed)  # noqa: S311 - not a secret


def choose(entries: Sequence[Entry], source: random.Random = _UNSEEDED) -> Entry:
    """Pick one entry by relative weight, from `source` (the same seed picks the same entry)."""
    # Weight-0 entries are dropped first, so float rounding can never pick one.
    weighed = [entry for entry in entries if entry.weight > 0]
    if len(weighed) == 1:
        return weighed[0]
    return source.choices(weighed, [entry.weight for entry in weighed])[0]


def picked(entry: Entry, source: random.Random) -> Entry:
    """Return `entry` with each of its delay ranges replaced by the one value `source` picks."""
    options = picked_options(entry.options, source)
    return entry if options is entry.options else Entry(entry.outcome, entry.weight, options)


def binding(entries: Sequence[Entry]) -> str:
    """Return the canonical text of a sequence's `entries`: the list its key is bound to."""
    return ",".join(map(str, entries))


def entry_at(entries: Sequence[T], attempt: int) -> T:
    """Return the entry attempt number `attempt` (1 for the first) gets; the last repeats."""
    if attempt < 1:
        raise ValueError(f"attempts are numbered from 1, got {attempt}")
    return entries[min(attempt, len(entries)) - 1]


def with_defaults(entry: Entry, defaults: Options) -> Entry:
    """Return `entry` with each option it does not give taken from `defaults` (the query's)."""
    if not defaults:
        return entry
    if isinstance(entry.outcome, Fault):
        # A fault entry takes the query's delay alone: it sends no answer of the app's.
        defaults = Options(sleep=defaults.sleep)
    return Entry(entry.outcome, entry.weight, entry.options.over(defaults))
