"""The document's entries and options, checked both ways against the parsers, and its new routes.

The oracles here are tables of pieces whose validity is written out by hand:
a list built from them is well-formed exactly when every piece is, and read
exactly when it is well-formed and breaks none of the rules a pattern cannot
say (weights adding up to 0, a range backwards, an option given twice).
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_flask import create_app
from simple_flask.apidoc.docs import resolve_ref
from simple_flask.apidoc.openapi import build_document, number_pattern
from simple_flask.core.entries import parse_entry, parse_list
from simple_flask.core.errors import StatusError
from simple_flask.core.options import OPTION_NAMES, Limits, parse_option, sized_body
from simple_flask.core.sequences import LISTED_KEYS, Attempt, Record, report
from simple_flask.core.settings import Settings
from simple_flask.core.status_faults import ENTRY_FAULTS

MAX_SLEEP_MS = 250
MAX_SIZE = 1000
SETTINGS = Settings(max_sleep_ms=MAX_SLEEP_MS, max_answer_size=MAX_SIZE)
LIMITS = Limits(max_sleep_ms=MAX_SLEEP_MS, max_size=MAX_SIZE)
APP = create_app({"SETTINGS": SETTINGS})
SPEC = build_document(APP)
PARAMETERS = SPEC["components"]["parameters"]
SCHEMAS = SPEC["components"]["schemas"]
CODES_PATTERN = PARAMETERS["Codes"]["schema"]["pattern"]
SEQUENCE_ENTRY_PATTERN = SCHEMAS["SequenceEntry"]["pattern"]
STATUS_PATHS = ("/status/{codes}", "/status/{codes}/", "/status/{codes}/{rest}")

# (text, well-formed) of each kind of piece, under MAX_SLEEP_MS and MAX_SIZE.
CODES = [("200", True), ("418", True), ("599", True), ("199", False), ("600", False)]
CODES += [
    ("20", False),
    ("2000", False),
    ("", False),
    ("\u0662\u0660\u0660", False),
    ("sequences", False),
]
FAULTS = [(word, True) for word in ("reset", "close", "garbage", "bad_chunk", "cut_head")]
FAULTS += [("Reset", False), ("bad-chunk", False), ("cut_headx", False)]
# (text, weight or None where malformed)
WEIGHTS = [("", 1.0), (":1", 1.0), (":0.5", 0.5), (":.5", 0.5), (":5.", 5.0), (":007", 7.0)]
WEIGHTS += [(":0", 0.0), (":", None), (":-1", None), (":1e3", None), (":x", None), (":1:2", None)]
# (option name, value, well-formed)
OPTIONS = [
    ("sleep", "0", True),
    ("sleep", "250", True),
    ("sleep", "000250", True),
    ("sleep", "10..20", True),
    ("sleep", "20..20", True),
    ("sleep", "251", False),
    ("sleep", "0..251", False),
    ("sleep", "-1", False),
    ("sleep", "1.5", False),
    ("sleep", "..5", False),
    ("sleep", "5..", False),
    ("sleep", "1...5", False),
    ("sleep", "", False),
    ("sleep", "\u0665", False),
    ("stall", "5", True),
    ("stall", "0..250", True),
    ("stall", "300", False),
    ("truncate", "0", True),
    ("truncate", "000000003", True),
    ("truncate", "999999999", True),
    ("truncate", "0000000003", False),
    ("truncate", "1234567890", False),
    ("retry_after", "2", True),
    ("retry_after", "00002", True),
    ("retry_after", "date:86400", True),
    ("retry_after", "none", True),
    ("retry_after", "86401", False),
    ("retry_after", "000002", False),
    ("retry_after", "date:", False),
    ("retry_after", "None", False),
    ("size", "0", True),
    ("size", "1000", True),
    ("size", "00001000", True),
    ("size", "1001", False),
    ("size", "-1", False),
    ("rate", "1", True),
    ("rate", "0001", True),
    ("rate", "999999999999999", True),
    ("rate", "0", False),
    ("rate", "1000000000000000", False),
    ("SLEEP", "1", False),
    ("foo", "1", False),
]
# Options whose value is well-formed but that no entry may take as written.
BACKWARDS = [("sleep", "20..10"), ("stall", "250..0")]
# Option texts that are not name=value at all.
SHAPELESS = ["", "sleep"]


@st.composite
def entries(draw, weighted=True):
    """An entry built from the pieces: (text, well-formed, unsayable, weight)."""
    fault = draw(st.booleans())
    outcome, good = draw(st.sampled_from(FAULTS if fault else CODES))
    weight_text, weight = draw(st.sampled_from(WEIGHTS)) if weighted else ("", 1.0)
    good = good and weight is not None
    texts, names, unsayable = [], [], False
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            texts.append(draw(st.sampled_from(SHAPELESS)))
            good = False
            continue
        if kind == 1:
            name, value = draw(st.sampled_from(BACKWARDS))
            unsayable = True
        else:
            name, value, well_formed = draw(st.sampled_from(OPTIONS))
            good = good and well_formed
        # A fault entry sends no answer of the app's: it takes sleep alone.
        good = good and not (fault and name != "sleep")
        unsayable = unsayable or name in names
        names.append(name)
        texts.append(f"{name}={value}")
    text = ";".join([outcome + weight_text, *texts])
    return text, good, unsayable, weight or 0.0


@given(st.lists(entries(), min_size=1, max_size=4))
@settings(max_examples=400)
def test_the_codes_pattern_and_the_parser_agree_on_lists(listed):
    text = ",".join(entry[0] for entry in listed)
    well_formed = all(entry[1] for entry in listed)
    assert bool(re.fullmatch(CODES_PATTERN, text)) == well_formed, text
    unsayable = any(entry[2] for entry in listed) or sum(entry[3] for entry in listed) == 0
    try:
        parse_list(text, limits=LIMITS)
    except StatusError:
        assert not well_formed or unsayable, text
    else:
        assert well_formed and not unsayable, text


@given(entries(weighted=False))
@settings(max_examples=200)
def test_the_sequence_entry_pattern_and_the_parser_agree(entry):
    text, well_formed, unsayable, _ = entry
    assert bool(re.fullmatch(SEQUENCE_ENTRY_PATTERN, text)) == well_formed, text
    try:
        parse_entry(text, in_order=True, limits=LIMITS)
    except StatusError:
        assert not well_formed or unsayable, text
    else:
        assert well_formed and not unsayable, text


@pytest.mark.parametrize(("count", "allowed"), [(1, True), (50, True), (51, False)])
def test_the_codes_pattern_counts_the_entries(count, allowed):
    text = ",".join(["200;sleep=1"] * count)
    assert bool(re.fullmatch(CODES_PATTERN, text)) == allowed
    if allowed:
        assert len(parse_list(text, limits=LIMITS)) == count
    else:
        with pytest.raises(StatusError):
            parse_list(text, limits=LIMITS)


def option_parameter(name: str) -> dict:
    (parameter,) = [
        resolve_ref(SPEC, p)
        for p in SPEC["paths"]["/status/{codes}"]["parameters"]
        if resolve_ref(SPEC, p)["name"] == name
    ]
    return parameter


@pytest.mark.parametrize(
    ("name", "value", "well_formed"), [option for option in OPTIONS if option[0] in OPTION_NAMES]
)
def test_each_option_query_parameter_agrees_with_the_parser(name, value, well_formed):
    pattern = option_parameter(name)["schema"]["pattern"]
    assert bool(re.fullmatch(pattern, value)) == well_formed
    try:
        parse_option(name, value, LIMITS)
    except StatusError:
        assert not well_formed
    else:
        assert well_formed


@given(
    st.sampled_from(OPTION_NAMES),
    st.one_of(
        st.integers(0, 10**16).map(str),
        st.tuples(st.integers(0, 3), st.integers(0, 2000)).map(lambda t: "0" * t[0] + str(t[1])),
        st.tuples(st.integers(0, 300), st.integers(0, 300)).map(lambda t: f"{t[0]}..{t[1]}"),
        st.integers(0, 99999).map(lambda n: f"date:{n}"),
        st.text(alphabet="0123456789.:datenox-", max_size=12),
    ),
)
@settings(max_examples=500)
def test_every_option_value_the_parser_reads_fits_its_pattern_and_back(name, value):
    pattern = option_parameter(name)["schema"]["pattern"]
    try:
        parse_option(name, value, LIMITS)
    except StatusError:
        low, dots, high = value.partition("..")
        backwards = dots and low.isdigit() and high.isdigit() and int(low) > int(high)
        assert not re.fullmatch(pattern, value) or backwards, value
    else:
        assert re.fullmatch(pattern, value), value


@given(
    largest=st.integers(0, 10**12),
    offset=st.integers(-1000, 1000),
    zeros=st.integers(0, 3),
    width=st.one_of(st.none(), st.integers(0, 3)),
)
def test_number_patterns_hold_the_numbers_up_to_the_largest(largest, offset, zeros, width):
    number = abs(largest + offset)
    text = "0" * zeros + str(number)
    limit = None if width is None else len(str(largest)) + width
    expected = number <= largest and (limit is None or len(text) <= limit)
    pattern = number_pattern(largest, limit)
    assert bool(re.fullmatch(pattern, text)) == expected, (pattern, text)


def test_every_option_is_a_query_parameter_of_the_status_routes():
    codes = PARAMETERS["Codes"]["description"]
    for path in STATUS_PATHS:
        names = {resolve_ref(SPEC, p)["name"] for p in SPEC["paths"][path]["parameters"]}
        assert set(OPTION_NAMES) <= names, path
    for name in OPTION_NAMES:
        assert f"`{name}`" in codes, name
        assert option_parameter(name)["in"] == "query"


def test_every_fault_word_is_documented():
    codes = PARAMETERS["Codes"]["description"]
    stand_in = SPEC["components"]["responses"]["Status501"]["description"]
    for word in ENTRY_FAULTS:
        assert f"`{word}`" in codes, word
        assert f"`{word}`" in stand_in, word
        assert re.fullmatch(CODES_PATTERN, word)


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 1000, 100_000])
def test_every_sized_body_fits_its_pattern_and_no_other_text_does(size):
    pattern = SCHEMAS["SizedBody"]["pattern"]
    body = sized_body(size).decode()
    assert len(body) == size
    assert re.fullmatch(pattern, body)
    assert not re.fullmatch(pattern, body + "!")
    if size:
        assert not re.fullmatch(pattern, body[:-1] + "!")
        assert not re.fullmatch(pattern, "b" + body[1:])


def test_the_report_holds_the_documented_fields():
    """Each field report() writes is documented, and each documented one is written."""
    attempts = (Attempt(1.0, "GET", "503;sleep=2"), Attempt(1.5, "POST", "200"))
    written = report("k", Record("503;sleep=1..3,200", 2, attempts))
    documented = SCHEMAS["SequenceReport"]
    assert set(written) == set(documented["properties"]) == set(documented["required"])
    attempt = documented["properties"]["attempts"]["items"]
    first, second = written["attempts"]
    assert set(first) == set(attempt["properties"]) == set(attempt["required"])
    assert first == {
        "attempt": 1,
        "method": "GET",
        "served": "503;sleep=1..3",
        "sent": "503;sleep=2",
        "at": "1970-01-01T00:00:01.000Z",
        "since_previous_ms": None,
    }
    assert (second["method"], second["served"], second["since_previous_ms"]) == ("POST", "200", 500)


def test_the_report_names_the_methods_of_the_status_route():
    (rule,) = [rule for rule in APP.url_map.iter_rules() if rule.rule == "/status/<codes>"]
    method = SCHEMAS["SequenceReport"]["properties"]["attempts"]["items"]["properties"]["method"]
    assert set(method["enum"]) == set(rule.methods)


def test_the_listed_keys_are_bounded_as_the_route_bounds_them():
    assert SCHEMAS["SequenceKeys"]["properties"]["keys"]["maxItems"] == LISTED_KEYS
