"""The status service's grammar: codes, weighted lists, the seeded choice, the query values."""

import collections
import math
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_flask.core.status_codes import (
    CATALOGUE,
    MAX_ENTRIES,
    MAX_LOCATION_LENGTH,
    StatusError,
    StatusQuery,
    choose,
    describe,
    parse_code,
    parse_codes,
    parse_location,
    parse_query,
    parse_seed,
    parse_sleep,
    phrase,
)
from simple_flask.core.status_faults import Fault

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


# --- lists and weights -----------------------------------------------------------------------


def test_a_single_code_weighs_1():
    assert parse_codes("418") == ((418, 1.0),)


def test_a_list_without_weights_is_uniform():
    assert parse_codes("200,500,503") == ((200, 1.0), (500, 1.0), (503, 1.0))


def test_weights_are_read_as_decimals():
    assert parse_codes("200:0.9,500:0.1") == ((200, 0.9), (500, 0.1))
    assert parse_codes("200:3,500:.5,502:7.,503:0") == (
        (200, 3.0),
        (500, 0.5),
        (502, 7.0),
        (503, 0.0),
    )


def test_an_entry_without_weight_weighs_1_among_weighted_ones():
    assert parse_codes("200:3,500") == ((200, 3.0), (500, 1.0))


def test_repeated_codes_are_kept_as_separate_entries():
    assert parse_codes("200,200,500") == ((200, 1.0), (200, 1.0), (500, 1.0))


def test_at_most_50_entries():
    assert len(parse_codes(",".join(["200"] * MAX_ENTRIES))) == MAX_ENTRIES
    with pytest.raises(StatusError, match=f"at most {MAX_ENTRIES}.*got {MAX_ENTRIES + 1}"):
        parse_codes(",".join(["200"] * (MAX_ENTRIES + 1)))


def test_a_huge_list_is_refused_with_its_length():
    with pytest.raises(StatusError, match="at most 50 status codes may be listed, got 1000000"):
        parse_codes(",".join(["x"] * 1_000_000))


@pytest.mark.parametrize("text", ["", ",", "200,", ",200", "200,,500"])
def test_empty_lists_and_entries_are_refused(text):
    with pytest.raises(StatusError, match="empty"):
        parse_codes(text)


@pytest.mark.parametrize(
    "text", ["200,2_00", "200:1,600", "500, 200", "200,100", "200,\u0662\u0660\u0660"]
)
def test_every_code_in_a_list_is_checked(text):
    with pytest.raises(StatusError, match=r"^entry 2 of the list: (a status code|1xx codes)"):
        parse_codes(text)


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
        parse_codes(f"200:{weight},500")


@pytest.mark.parametrize("text", ["200:0", "200:0,500:0.0", "200:0." + "0" * 400 + "1"])
def test_weights_must_add_up_to_more_than_0(text):
    with pytest.raises(StatusError, match="add up to more than 0"):
        parse_codes(text)


def test_weights_must_add_up_to_a_finite_number():
    big = "1" + "0" * 308  # 1e308: finite alone, infinite when two are added
    assert parse_codes(f"200:{big}") == ((200, 1e308),)
    with pytest.raises(StatusError, match="finite number"):
        parse_codes(f"200:{big},500:{big}")


# Any text at all, and text close to the grammar, which reaches its deeper rules.
_NEAR_GRAMMAR = st.from_regex(
    r"\A([0-9]{1,4}(:[-+0-9.eE_a-z]{0,6})?)(,[0-9\u0662 ]{0,4}(:[0-9.]{0,5})?){0,60}\Z"
)


@settings(max_examples=500)
@given(st.one_of(st.text(), _NEAR_GRAMMAR))
def test_no_string_makes_the_list_parser_raise_anything_but_status_error(text):
    try:
        entries = parse_codes(text)
    except StatusError as error:
        assert str(error)
        return
    assert 1 <= len(entries) <= MAX_ENTRIES
    # An entry is a code from 200 to 599 or a fault word (reset, close).
    assert all(isinstance(code, Fault) or 200 <= code <= 599 for code, _ in entries)
    assert all(math.isfinite(weight) and weight >= 0 for _, weight in entries)
    assert 0 < sum(weight for _, weight in entries) < math.inf
    assert choose(entries, seed=0) in {code for code, weight in entries if weight > 0}


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


# --- the choice ------------------------------------------------------------------------------


def test_a_single_code_is_always_chosen():
    assert {choose(((503, 1.0),), seed) for seed in range(100)} == {503}
    assert choose(((503, 1.0),)) == 503


def test_weight_0_is_never_chosen():
    entries = parse_codes("200:0,500:1,502:0")
    assert {choose(entries, seed) for seed in range(2000)} == {500}


def test_the_same_seed_always_gives_the_same_code():
    entries = parse_codes("200,201,202,203,204,205,206,207,208,226")
    for seed in range(200):
        assert len({choose(entries, seed) for _ in range(5)}) == 1
    # ...while different seeds do pick different codes.
    assert len({choose(entries, seed) for seed in range(200)}) == 10


def test_without_a_seed_the_choice_varies():
    entries = parse_codes("200,500")
    # Each code has probability 2**-200 of never showing up: this cannot fail by chance.
    assert {choose(entries) for _ in range(200)} == {200, 500}


def _counts(text: str, draws: int) -> collections.Counter:
    """Draw once per seed 0..draws-1, as the service does for ?seed=0, ?seed=1, ..."""
    entries = parse_codes(text)
    return collections.Counter(choose(entries, seed) for seed in range(draws))


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


# --- the query values ------------------------------------------------------------------------


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
