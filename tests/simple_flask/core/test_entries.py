"""The entries of a status list: one parser for weighted lists and sequences, and the choice."""

import collections
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_flask.core.entries import (
    MAX_ENTRIES,
    Entry,
    binding,
    choose,
    entry_at,
    parse_list,
    source_of,
)
from simple_flask.core.errors import StatusError
from simple_flask.core.status_faults import Fault


def pairs(text: str, in_order: bool = False) -> tuple[tuple[object, float], ...]:
    """Return the (outcome, weight) of each entry of the list `text`."""
    return tuple((entry.outcome, entry.weight) for entry in parse_list(text, in_order))


# --- lists and weights -----------------------------------------------------------------------


def test_a_single_code_weighs_1():
    assert pairs("418") == ((418, 1.0),)


def test_a_list_without_weights_is_uniform():
    assert pairs("200,500,503") == ((200, 1.0), (500, 1.0), (503, 1.0))


def test_weights_are_read_as_decimals():
    assert pairs("200:0.9,500:0.1") == ((200, 0.9), (500, 0.1))
    assert pairs("200:3,500:.5,502:7.,503:0") == (
        (200, 3.0),
        (500, 0.5),
        (502, 7.0),
        (503, 0.0),
    )


def test_an_entry_without_weight_weighs_1_among_weighted_ones():
    assert pairs("200:3,500") == ((200, 3.0), (500, 1.0))


def test_repeated_codes_are_kept_as_separate_entries():
    assert pairs("200,200,500") == ((200, 1.0), (200, 1.0), (500, 1.0))


def test_at_most_50_entries():
    assert len(pairs(",".join(["200"] * MAX_ENTRIES))) == MAX_ENTRIES
    with pytest.raises(StatusError, match=f"at most {MAX_ENTRIES}.*got {MAX_ENTRIES + 1}"):
        pairs(",".join(["200"] * (MAX_ENTRIES + 1)))


def test_a_huge_list_is_refused_with_its_length():
    with pytest.raises(StatusError, match="at most 50 status codes may be listed, got 1000000"):
        pairs(",".join(["x"] * 1_000_000))


@pytest.mark.parametrize("text", ["", ",", "200,", ",200", "200,,500"])
def test_empty_lists_and_entries_are_refused(text):
    with pytest.raises(StatusError, match="empty"):
        pairs(text)


@pytest.mark.parametrize(
    "text", ["200,2_00", "200:1,600", "500, 200", "200,100", "200,\u0662\u0660\u0660"]
)
def test_every_code_in_a_list_is_checked(text):
    with pytest.raises(
        StatusError, match=r"^entry 2 \(.+\) of the list: (a status code|1xx codes)"
    ):
        pairs(text)


@pytest.mark.parametrize(
    "weight",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "1e309",
        "1e3",
        "-0",
        "-1",
        "+1",
        "",
        ".",
        " 1",
        "1 ",
        "0x1",
        "1_0",
        "\u0660.5",  # Arabic-Indic zero
        "0.5.5",
        "1:2",
        "9" * 400,  # float() reads it as inf
    ],
)
def test_weights_must_be_finite_decimals_at_least_0(weight):
    with pytest.raises(StatusError, match="weight of 200 must be a finite decimal"):
        pairs(f"200:{weight},500")


@pytest.mark.parametrize("text", ["200:0", "200:0,500:0.0", "200:0." + "0" * 400 + "1"])
def test_weights_must_add_up_to_more_than_0(text):
    with pytest.raises(StatusError, match="add up to more than 0"):
        pairs(text)


def test_weights_must_add_up_to_a_finite_number():
    big = "1" + "0" * 308  # 1e308: finite alone, infinite when two are added
    assert pairs(f"200:{big}") == ((200, 1e308),)
    with pytest.raises(StatusError, match="finite number"):
        pairs(f"200:{big},500:{big}")


# Any text at all, and text close to the grammar, which reaches its deeper rules.
_NEAR_GRAMMAR = st.from_regex(
    r"\A([0-9]{1,4}(:[-+0-9.eE_a-z]{0,6})?)(,[0-9\u0662 ]{0,4}(:[0-9.]{0,5})?){0,60}\Z"
)


@settings(max_examples=500)
@given(st.one_of(st.text(), _NEAR_GRAMMAR))
def test_no_string_makes_the_list_parser_raise_anything_but_status_error(text):
    try:
        entries = parse_list(text)
    except StatusError as error:
        assert str(error)
        return
    assert 1 <= len(entries) <= MAX_ENTRIES
    # An entry is a code from 200 to 599 or a fault word (reset, close).
    assert all(isinstance(e.outcome, Fault) or 200 <= e.outcome <= 599 for e in entries)
    assert all(math.isfinite(e.weight) and e.weight >= 0 for e in entries)
    assert 0 < sum(e.weight for e in entries) < math.inf
    assert choose(entries, source_of(0)) in {entry for entry in entries if entry.weight > 0}


# --- the choice ------------------------------------------------------------------------------


def test_a_single_code_is_always_chosen():
    assert {choose((Entry(503),), source_of(seed)) for seed in range(100)} == {Entry(503)}
    assert choose((Entry(503),)) == Entry(503)


def test_weight_0_is_never_chosen():
    entries = parse_list("200:0,500:1,502:0")
    assert {choose(entries, source_of(seed)).outcome for seed in range(2000)} == {500}


def test_the_same_seed_always_gives_the_same_code():
    entries = parse_list("200,201,202,203,204,205,206,207,208,226")
    for seed in range(200):
        assert len({choose(entries, source_of(seed)).outcome for _ in range(5)}) == 1
    # ...while different seeds do pick different codes.
    assert len({choose(entries, source_of(seed)).outcome for seed in range(200)}) == 10


def test_without_a_seed_the_choice_varies():
    entries = parse_list("200,500")
    # Each code has probability 2**-200 of never showing up: this cannot fail by chance.
    assert {choose(entries).outcome for _ in range(200)} == {200, 500}


def _counts(text: str, draws: int) -> collections.Counter:
    """Draw once per seed 0..draws-1, as the service does for ?seed=0, ?seed=1, ..."""
    entries = parse_list(text)
    return collections.Counter(choose(entries, source_of(seed)).outcome for seed in range(draws))


def _within_5_sigma(count: int, draws: int, p: float) -> bool:
    # The count of one code over n independent draws is binomial(n, p): mean n*p,
    # standard deviation sqrt(n*p*(1-p)). A fair chooser falls outside 5 standard
    # deviations with probability below 1e-6; the seeds are fixed, so the test
    # is deterministic, and a chooser that ignored the weights (e.g. uniform:
    # 2000 of 4000 draws for 500) would be off by more than 80 sigma.
    sigma = math.sqrt(draws * p * (1 - p))
    return abs(count - draws * p) <= 5 * sigma


def test_weighted_choice_follows_the_weights():
    draws = 4000
    counts = _counts("200:0.9,500:0.1", draws)
    assert set(counts) == {200, 500}
    assert _within_5_sigma(counts[500], draws, 0.1), counts
    assert _within_5_sigma(counts[200], draws, 0.9), counts


def test_uniform_choice_is_uniform():
    draws = 4000
    counts = _counts("200,404,503", draws)
    for code in (200, 404, 503):
        assert _within_5_sigma(counts[code], draws, 1 / 3), counts


def test_weights_are_relative():
    draws = 4000
    counts = _counts("200:6,500:3,502:1", draws)
    for code, p in ((200, 0.6), (500, 0.3), (502, 0.1)):
        assert _within_5_sigma(counts[code], draws, p), counts


# --- sequences: in order, without weights -----------------------------------------------------


def test_a_sequence_lists_entries_in_order_without_weights():
    assert parse_list("503,503,200", in_order=True) == (Entry(503), Entry(503), Entry(200))
    assert binding(parse_list("503,503,200", in_order=True)) == "503,503,200"
    with pytest.raises(StatusError, match="take no weights"):
        parse_list("503:1,200", in_order=True)
    with pytest.raises(StatusError, match=r"entry 2 \('abc'\) of the sequence"):
        parse_list("503,abc", in_order=True)
    with pytest.raises(StatusError, match="at most 50"):
        parse_list(",".join(["200"] * 51), in_order=True)
    with pytest.raises(StatusError, match="empty"):
        parse_list("", in_order=True)


def test_connection_faults_may_be_entries_of_a_sequence():
    entries = parse_list("reset,close,200", in_order=True)
    assert [str(entry) for entry in entries] == ["reset", "close", "200"]
    assert binding(entries) == "reset,close,200"
    with pytest.raises(StatusError, match="take no weights"):
        parse_list("reset:1,200", in_order=True)


def test_the_nth_attempt_gets_the_nth_entry_then_the_last_repeats():
    entries = parse_list("503,502,200", in_order=True)
    assert [entry_at(entries, n).outcome for n in range(1, 7)] == [503, 502, 200, 200, 200, 200]
    with pytest.raises(ValueError):
        entry_at(entries, 0)


def test_one_list_reads_the_same_as_weighted_and_in_order_where_both_allow_it():
    for text in ("503", "503,503,200", "reset,200", "close"):
        assert parse_list(text) == parse_list(text, in_order=True)
