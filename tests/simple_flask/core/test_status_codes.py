"""The status service's codes and query values: the catalogue, one code, each query parser."""

from http import HTTPStatus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_flask.core.errors import StatusError
from simple_flask.core.status_codes import (
    CATALOGUE,
    MAX_LOCATION_LENGTH,
    StatusQuery,
    describe,
    parse_code,
    parse_location,
    parse_query,
    parse_seed,
    parse_sleep,
)
from simple_flask_blueprint.core.http_facts import status_phrase as phrase

REGISTERED = [status for status in HTTPStatus if 200 <= status.value <= 599]


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_is_every_registered_code_from_200_to_599_in_order():
    assert CATALOGUE == tuple((status.value, status.phrase) for status in REGISTERED)
    assert [code for code, _ in CATALOGUE] == sorted(code for code, _ in CATALOGUE)


@pytest.mark.parametrize("status", REGISTERED, ids=str)
def test_registered_codes_take_their_phrase_from_httpstatus(status):
    assert phrase(status.value) == status.phrase
    assert describe(status.value) == {"code": status.value, "description": status.phrase}


@pytest.mark.parametrize("code", [209, 299, 306, 399, 419, 499, 599])
def test_unregistered_codes_are_unknown(code):
    assert code not in {status.value for status in HTTPStatus}
    assert phrase(code) == "Unknown Status Code"
    assert parse_code(str(code)) == code


# --- one code --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", range(200, 600))
def test_every_code_from_200_to_599_is_accepted(code):
    assert parse_code(str(code)) == code


@pytest.mark.parametrize(
    "text",
    [
        "2_00",
        " 200",
        "200 ",
        "\t200",
        "200\n",
        "\u0662\u0660\u0660",  # Arabic-Indic 200: str.isdigit() and int() accept it
        "\uff12\uff10\uff10",  # fullwidth 200
        "0",
        "-1",
        "+200",
        "20",
        "1000",
        "0200",
        "",
        "2e2",
        "0x1",
        "abc",
        "20O",
        "200.0",
    ],
)
def test_anything_but_three_ascii_digits_is_refused(text):
    with pytest.raises(StatusError, match="three ASCII digits"):
        parse_code(text)


@pytest.mark.parametrize("text", ["000", "099", "600", "999"])
def test_three_digits_out_of_range_are_refused(text):
    with pytest.raises(StatusError, match="from 200 to 599"):
        parse_code(text)


@pytest.mark.parametrize("code", [100, 101, 102, 103, 150, 199])
def test_1xx_codes_are_refused_with_the_reason(code):
    with pytest.raises(StatusError, match="1xx") as raised:
        parse_code(str(code))
    assert "interim" in str(raised.value)
    assert "WSGI" in str(raised.value)


def test_a_huge_input_makes_a_short_message():
    with pytest.raises(StatusError) as raised:
        parse_code("x" * 100_000)
    assert len(str(raised.value)) < 200


# --- the query values ------------------------------------------------------------------------


@given(st.text(), st.integers(min_value=0, max_value=600_000))
def test_no_string_makes_the_query_parsers_raise_anything_but_status_error(text, cap):
    for parse in (parse_seed, parse_location, lambda value: parse_sleep(value, cap)):
        try:
            parse(text)
        except StatusError as error:
            assert str(error)


@given(st.dictionaries(st.sampled_from(["sleep", "seed", "location", "x"]), st.lists(st.text())))
def test_no_query_makes_parse_query_raise_anything_but_status_error(args):
    try:
        query = parse_query(args, 10_000)
    except StatusError:
        return
    assert 0 <= query.sleep_ms <= 10_000


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
    ("text", "ms"), [("0", 0), ("1", 1), ("10000", 10000), ("0010", 10), ("0" * 5000 + "7", 7)]
)
def test_sleep_is_an_integer_up_to_the_cap(text, ms):
    assert parse_sleep(text, 10_000) == ms


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
    with pytest.raises(StatusError, match=r"sleep must be an integer .* from 0 to 10000"):
        parse_sleep(text, 10_000)


def test_the_sleep_cap_is_configurable():
    assert parse_sleep("0", 0) == 0
    with pytest.raises(StatusError, match="from 0 to 0"):
        parse_sleep("1", 0)
    assert parse_sleep("600000", 600_000) == 600_000


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


def test_parse_query_reads_the_three_values_and_ignores_the_rest():
    args = {"sleep": ["10"], "seed": ["3"], "location": ["/x"], "cache_buster": ["1", "2"]}
    assert parse_query(args, 10_000) == StatusQuery(sleep_ms=10, seed=3, location="/x")
    assert parse_query({}, 10_000) == StatusQuery()


@pytest.mark.parametrize("name", ["sleep", "seed", "location"])
def test_parse_query_refuses_a_repeated_value(name):
    with pytest.raises(StatusError, match=f"{name} may be given only once, got it 2 times"):
        parse_query({name: ["1", "1"]}, 10_000)


def test_parse_query_checks_each_value():
    with pytest.raises(StatusError, match="sleep"):
        parse_query({"sleep": ["10001"]}, 10_000)
    with pytest.raises(StatusError, match="seed"):
        parse_query({"seed": ["x"]}, 10_000)
    with pytest.raises(StatusError, match="location"):
        parse_query({"location": ["//x"]}, 10_000)
