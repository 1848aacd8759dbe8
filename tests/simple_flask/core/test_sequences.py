"""The pure rules of failure sequences: keys, entries, the entry of attempt n, the report."""

import re

import pytest

from simple_flask.core.sequences import (
    MAX_HISTORY,
    Entry,
    Record,
    SequenceConflict,
    binding,
    entry_at,
    parse_entries,
    parse_key,
    parse_sequence_query,
    report,
)
from simple_flask.core.status_codes import StatusError


@pytest.mark.parametrize("key", ["a", "A-z_0.9~", "x" * 64, "...", "retry-test.1"])
def test_good_keys_are_kept_as_they_are(key):
    assert parse_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "x" * 65, "a/b", "a b", "ä", "a%20", ".", "..", "a:b", "a\n", "{a}"]
)
def test_bad_keys_are_refused_naming_the_rule(key):
    with pytest.raises(StatusError, match=re.escape("1 to 64 characters of A-Z a-z 0-9 . _ ~ -")):
        parse_key(key)


def test_entries_are_codes_in_order_without_weights():
    assert parse_entries("503,503,200") == (Entry(503), Entry(503), Entry(200))
    assert binding(parse_entries("503,503,200")) == "503,503,200"
    with pytest.raises(StatusError, match="take no weights"):
        parse_entries("503:1,200")
    with pytest.raises(StatusError, match="entry 2 of the sequence"):
        parse_entries("503,abc")
    with pytest.raises(StatusError, match="at most 50"):
        parse_entries(",".join(["200"] * 51))
    with pytest.raises(StatusError, match="empty"):
        parse_entries("")


def test_connection_faults_may_be_entries():
    entries = parse_entries("reset,close,200")
    assert [str(entry) for entry in entries] == ["reset", "close", "200"]
    assert binding(entries) == "reset,close,200"
    with pytest.raises(StatusError, match="take no weights"):
        parse_entries("reset:1,200")


def test_the_nth_attempt_gets_the_nth_entry_then_the_last_repeats():
    entries = parse_entries("503,502,200")
    assert [entry_at(entries, n).code for n in range(1, 7)] == [503, 502, 200, 200, 200, 200]
    with pytest.raises(ValueError):
        entry_at(entries, 0)


def test_the_query_names_one_key_and_no_seed():
    assert parse_sequence_query({"sleep": ["1"]}) is None
    assert parse_sequence_query({"sequence": ["k"], "sleep": ["5"]}) == "k"
    with pytest.raises(StatusError, match="only once"):
        parse_sequence_query({"sequence": ["k", "k"]})
    with pytest.raises(StatusError, match="seed and sequence cannot be combined"):
        parse_sequence_query({"sequence": ["k"], "seed": ["1"]})
    with pytest.raises(StatusError, match="sequence key"):
        parse_sequence_query({"sequence": ["a/b"]})


def test_a_conflict_names_the_key_and_both_lists():
    message = str(SequenceConflict("k", "503,200", "500"))
    assert "'k'" in message and "503,200" in message and "500" in message


def test_the_report_numbers_the_kept_attempts_and_times_them():
    record = Record("503,200", count=5, times=(10.0, 10.25, 11.0))
    body = report("k", record)
    assert body["key"] == "k"
    assert body["entries"] == ["503", "200"]
    assert body["attempts_total"] == 5
    assert [a["attempt"] for a in body["attempts"]] == [3, 4, 5]
    assert [a["served"] for a in body["attempts"]] == ["200", "200", "200"]
    assert [a["since_previous_ms"] for a in body["attempts"]] == [None, 250, 750]
    assert body["attempts"][0]["at"] == "1970-01-01T00:00:10.000Z"


def test_the_report_of_a_fresh_sequence_serves_from_the_first_entry():
    body = report("k", Record("503,200", count=2, times=(1.0, 2.0)))
    assert [a["served"] for a in body["attempts"]] == ["503", "200"]
    assert MAX_HISTORY == 100
