"""The query values of a status request: the seed, the location, and the query's options."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_flask.core.errors import StatusError
from simple_flask.core.options import Limits, Options, Span, parse_option
from simple_flask.core.query import (
    MAX_LOCATION_LENGTH,
    StatusQuery,
    parse_location,
    parse_query,
    parse_seed,
)

# --- the query values ------------------------------------------------------------------------


@given(st.text(), st.integers(min_value=0, max_value=600_000))
def test_no_string_makes_the_query_parsers_raise_anything_but_status_error(text, cap):
    limits = Limits(max_sleep_ms=cap)
    for parse in (parse_seed, parse_location, lambda value: parse_option("sleep", value, limits)):
        try:
            parse(text)
        except StatusError as error:
            assert str(error)


@given(st.dictionaries(st.sampled_from(["sleep", "seed", "location", "x"]), st.lists(st.text())))
def test_no_query_makes_parse_query_raise_anything_but_status_error(args):
    try:
        query = parse_query(args, Limits())
    except StatusError:
        return
    sleep = query.options.sleep
    assert sleep is None or 0 <= sleep.low <= sleep.high <= 10_000


@pytest.mark.parametrize(
    ("text", "seed"), [("0", 0), ("42", 42), ("-7", -7), ("9" * 20, 10**20 - 1)]
)
def test_seeds_are_integers(text, seed):
    assert parse_seed(text) == seed


@pytest.mark.parametrize(
    "text", ["", "-", "+1", "1.5", " 1", "1 ", "abc", "\u0663", "1e3", "9" * 21]
)
def test_other_seeds_are_refused(text):
    with pytest.raises(StatusError, match="seed must be an integer"):
        parse_seed(text)


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("/", "/"),
        ("/status/200", "/status/200"),
        ("/a/b?c=d&e=f#g", "/a/b?c=d&e=f#g"),
        ("/a b", "/a%20b"),
        ("/é", "/%C3%A9"),
        ("/a%20b", "/a%20b"),
        ("/a?b=[1]", "/a?b=%5B1%5D"),
        ("/'\"<>{}|^`", "/'%22%3C%3E%7B%7D%7C%5E%60"),
        ("/a\u2028b", "/a%E2%80%A8b"),
        ("/" + "a" * (MAX_LOCATION_LENGTH - 1), "/" + "a" * (MAX_LOCATION_LENGTH - 1)),
    ],
)
def test_locations_are_paths_on_this_host(text, location):
    assert parse_location(text) == location


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("//evil.com", "start with /"),
        ("///evil.com", "start with /"),
        ("http://evil.com/", "start with /"),
        ("https://evil.com", "start with /"),
        ("evil.com", "start with /"),
        ("", "start with /"),
        (" /a", "start with /"),
        ("\\\\evil.com", "start with /"),
        ("/\\evil.com", "backslash"),
        ("/a\\b", "backslash"),
        ("/\t/evil.com", "control characters"),
        ("/\n/evil.com", "control characters"),
        ("/a\r\nSet-Cookie: x=1", "control characters"),
        ("/a\x00", "control characters"),
        ("/a\x7f", "control characters"),
        ("/" + "a" * MAX_LOCATION_LENGTH, f"at most {MAX_LOCATION_LENGTH}"),
    ],
)
def test_other_locations_are_refused(text, rule):
    with pytest.raises(StatusError, match=rule):
        parse_location(text)


def test_parse_query_reads_its_values_and_ignores_the_rest():
    args = {"sleep": ["10"], "seed": ["3"], "location": ["/x"], "cache_buster": ["1", "2"]}
    assert parse_query(args, Limits()) == StatusQuery(
        seed=3, location="/x", options=Options(sleep=Span(10, 10))
    )
    assert parse_query({}, Limits()) == StatusQuery()


@pytest.mark.parametrize("name", ["sleep", "seed", "location"])
def test_parse_query_refuses_a_repeated_value(name):
    with pytest.raises(StatusError, match=f"{name} may be given only once, got it 2 times"):
        parse_query({name: ["1", "1"]}, Limits())


def test_parse_query_checks_each_value():
    with pytest.raises(StatusError, match="sleep"):
        parse_query({"sleep": ["10001"]}, Limits())
    with pytest.raises(StatusError, match="seed"):
        parse_query({"seed": ["x"]}, Limits())
    with pytest.raises(StatusError, match="location"):
        parse_query({"location": ["//x"]}, Limits())
