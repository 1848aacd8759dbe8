"""The options of a status entry or request: their values, their canonical text, their rules."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_flask.core.errors import StatusError
from simple_flask.core.options import (
    OPTION_NAMES,
    SIZE_PATTERN,
    Limits,
    Options,
    Span,
    check_answer,
    parse_option,
    parse_options,
    picked,
    query_options,
    sized_body,
)
from simple_flask.core.status_faults import RetryAfter


@pytest.mark.parametrize(
    ("text", "ms"), [("0", 0), ("1", 1), ("10000", 10000), ("0010", 10), ("0" * 5000 + "7", 7)]
)
def test_sleep_is_an_integer_up_to_the_cap(text, ms):
    assert parse_option("sleep", text, Limits()) == Span(ms, ms)


@pytest.mark.parametrize(
    "text",
    [
        "10001",
        "99999999999",
        "9" * 5000,
        "-1",
        "1.5",
        "",
        " 1",
        "1e3",
        "\u0663",
        "1_000",
        "0x10",
        "nan",
    ],
)
def test_other_sleeps_are_refused(text):
    with pytest.raises(StatusError, match=r"sleep must be a whole number .* from 0 to 10000"):
        parse_option("sleep", text, Limits())


def test_the_sleep_cap_is_configurable():
    assert parse_option("sleep", "0", Limits(max_sleep_ms=0)) == Span(0, 0)
    with pytest.raises(StatusError, match="from 0 to 0"):
        parse_option("sleep", "1", Limits(max_sleep_ms=0))
    assert parse_option("stall", "600000", Limits(max_sleep_ms=600_000)) == Span(600_000, 600_000)


@pytest.mark.parametrize(
    ("text", "span"), [("100..200", Span(100, 200)), ("0..0", Span(0, 0)), ("5..5", Span(5, 5))]
)
def test_a_delay_may_be_a_range(text, span):
    assert parse_option("sleep", text, Limits()) == span
    assert str(span) == (text.split("..")[0] if span.low == span.high else text)


@pytest.mark.parametrize("text", ["200..100", "1..", "..1", "1...2", "1..20000", "1..2..3"])
def test_a_range_goes_up_within_the_cap(text):
    with pytest.raises(StatusError, match=r"range <min>\.\.<max> within it"):
        parse_option("stall", text, Limits())


def test_a_seeded_pick_of_a_range_repeats_and_stays_within_it():
    options = Options(sleep=Span(100, 900), stall=Span(1, 3))
    picks = {picked(options, random.Random(seed)) for seed in range(200)}
    assert all(100 <= p.sleep.low == p.sleep.high <= 900 and 1 <= p.stall.low <= 3 for p in picks)
    assert len({p.sleep.low for p in picks}) > 100
    assert picked(options, random.Random(7)) == picked(options, random.Random(7))
    fixed = Options(sleep=Span(5, 5))
    assert picked(fixed, random.Random(1)) is fixed


@pytest.mark.parametrize(
    ("texts", "options"),
    [
        (["size=10", "rate=5"], Options(size=10, rate=5)),
        (
            ["retry_after=date:2", "truncate=0"],
            Options(truncate=0, retry_after=RetryAfter(2, True)),
        ),
        (["sleep=1..9"], Options(sleep=Span(1, 9))),
        ([], Options()),
    ],
)
def test_options_are_read_from_name_value_pairs(texts, options):
    assert parse_options(texts, Limits()) == options


@pytest.mark.parametrize(
    ("texts", "rule"),
    [
        (["color=red"], "there is no option 'color'"),
        (["sleep"], "written name=value"),
        (["sleep=1", "sleep=2"], "only once"),
        (["size=11"], "size must be a whole number of bytes from 0 to 10"),
        (["rate=0"], "at least 1"),
        (["rate=x"], "at least 1"),
        (["truncate=-1"], "truncate must be a whole number"),
        (["retry_after=soon"], "retry_after must be"),
    ],
)
def test_bad_options_are_refused_naming_the_rule(texts, rule):
    with pytest.raises(StatusError, match=rule):
        parse_options(texts, Limits(max_size=10))


def test_an_option_of_the_entry_wins_over_the_querys():
    entry = Options(sleep=Span(5, 5), size=3)
    query = Options(sleep=Span(9, 9), rate=100)
    assert entry.over(query) == Options(sleep=Span(5, 5), size=3, rate=100)
    assert Options().over(query) == query and entry.over(Options()) == entry


def test_the_canonical_text_lists_the_options_in_one_order():
    options = parse_options(["rate=5", "size=010", "sleep=0100..200", "retry_after=none"], Limits())
    assert str(options) == ";sleep=100..200;retry_after=none;size=10;rate=5"
    assert [part.split("=")[0] for part in str(options).split(";")[1:]] == [
        name for name in OPTION_NAMES if getattr(options, name) is not None
    ]
    assert str(Options()) == ""


def test_the_query_gives_each_option_once():
    assert query_options({"stall": ["7"], "other": ["x"]}, Limits()) == Options(stall=Span(7, 7))
    with pytest.raises(StatusError, match="size may be given only once"):
        query_options({"size": ["1", "1"]}, Limits())


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1000])
def test_a_sized_body_has_exactly_its_size_and_repeats_one_line(size):
    body = sized_body(size)
    assert len(body) == size
    assert body == (SIZE_PATTERN * (size // len(SIZE_PATTERN) + 1))[:size]


@pytest.mark.parametrize(
    ("options", "code", "length", "rule"),
    [
        (Options(truncate=1), 204, 0, "needs an answer with a body"),
        (Options(size=5), 304, 0, "size needs an answer with a body"),
        (Options(stall=Span(1, 1)), 200, 0, "stall needs an answer with a body"),
        (Options(truncate=6), 200, 6, "truncate must be from 0 to 5"),
        (Options(rate=1), 200, 11, r"within 10000 ms: 11 bytes need at least 2 bytes per second"),
        (Options(rate=1, truncate=10), 200, 20, None),
        (Options(size=0), 200, 0, None),
        (Options(rate=2), 200, 20, None),
    ],
)
def test_an_answer_takes_only_options_its_body_allows(options, code, length, rule):
    if rule is None:
        check_answer(options, code, length, Limits())
        return
    with pytest.raises(StatusError, match=rule):
        check_answer(options, code, length, Limits())


@given(st.sampled_from(OPTION_NAMES), st.text())
def test_no_option_value_raises_anything_but_status_error(name, text):
    try:
        parse_option(name, text, Limits())
    except StatusError as error:
        assert str(error)
