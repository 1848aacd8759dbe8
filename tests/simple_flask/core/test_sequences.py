"""The pure rules of failure sequences: keys, the query, conflicts, the report."""

import re

import pytest

from simple_flask.core.errors import SequenceConflict, StatusError
from simple_flask.core.sequences import (
    MAX_HISTORY,
    Attempt,
    Record,
    parse_key,
    parse_sequence_query,
    report,
)
from tests.pages import page


@pytest.mark.parametrize("key", ["a", "A-z_0.9~", "x" * 64, "...", "retry-test.1"])
def test_good_keys_are_kept_as_they_are(key):
    assert parse_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "x" * 65, "a/b", "a b", "ä", "a%20", ".", "..", "a:b", "a\n", "{a}"]
)
def test_bad_keys_are_refused_naming_the_rule(key):
    with pytest.raises(StatusError, match=re.escape("1 to 64 characters of A-Z a-z 0-9 . _ ~ -")):
        parse_key(key)


def test_the_query_names_one_key_and_may_take_a_seed():
    assert parse_sequence_query({"sleep": ["1"]}) is None
    assert parse_sequence_query({"sequence": ["k"], "sleep": ["5"]}) == "k"
    with pytest.raises(StatusError, match="only once"):
        parse_sequence_query({"sequence": ["k", "k"]})
    # The seed makes the picks of delay ranges repeatable.
    assert parse_sequence_query({"sequence": ["k"], "seed": ["1"]}) == "k"
    with pytest.raises(StatusError, match="sequence key"):
        parse_sequence_query({"sequence": ["a/b"]})


def test_a_conflict_names_the_key_and_both_lists():
    message = str(SequenceConflict("k", "503,200", "500"))
    assert "'k'" in message and "503,200" in message and "500" in message


def test_the_report_numbers_the_kept_attempts_and_times_them():
    attempts = (
        Attempt(10.0, "GET", "200"),
        Attempt(10.25, "POST", "200;sleep=5"),
        Attempt(11.0, "HEAD", "200"),
    )
    body = report("k", Record("503;retry_after=2,200", count=5, attempts=attempts))
    assert body["key"] == "k"
    assert body["entries"] == ["503;retry_after=2", "200"]
    assert body["attempts_total"] == 5
    assert [a["attempt"] for a in body["attempts"]] == [3, 4, 5]
    assert [a["served"] for a in body["attempts"]] == ["200", "200", "200"]
    assert [a["sent"] for a in body["attempts"]] == ["200", "200;sleep=5", "200"]
    assert [a["method"] for a in body["attempts"]] == ["GET", "POST", "HEAD"]
    assert [a["since_previous_ms"] for a in body["attempts"]] == [None, 250, 750]
    assert body["attempts"][0]["at"] == "1970-01-01T00:00:10.000Z"


def test_the_report_of_a_fresh_sequence_serves_from_the_first_entry():
    attempts = (Attempt(1.0, "GET", "503;retry_after=2"), Attempt(2.0, "GET", "200"))
    body = report("k", Record("503;retry_after=2,200", count=2, attempts=attempts))
    assert [a["served"] for a in body["attempts"]] == ["503;retry_after=2", "200"]


def documented_history() -> int:
    """How many attempts docs/sequences.md promises the report keeps ("the last 100 attempts")."""
    text = " ".join(page("docs/sequences.md").split())
    (count,) = re.findall(r"the last (\d+) attempts", text)
    return int(count)


def test_the_history_kept_is_the_length_the_documentation_promises():
    assert MAX_HISTORY == documented_history()
