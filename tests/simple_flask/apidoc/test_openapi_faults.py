"""The document's patterns for faults on demand, checked both ways against the parsers."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_flask.core.entries import parse_list
from simple_flask.core.errors import StatusError
from simple_flask.core.status_faults import (
    MAX_HEADER_NAME,
    MAX_HEADER_VALUE,
    Fault,
    parse_header,
    parse_retry_after,
)
from tests.simple_flask.apidoc.test_openapi import _PARAMETERS, CODES_PATTERN, LIMITS, unsayable

# The fault words a list may name, as the service's documentation lists them.
FAULT_WORDS = ("reset", "close", "garbage", "bad_chunk", "cut_head")

RETRY_AFTER_PATTERN = _PARAMETERS["RetryAfter"]["schema"]["pattern"]
HEADER_PATTERN = _PARAMETERS["Header"]["schema"]["items"]["pattern"]


@given(
    st.from_regex(CODES_PATTERN, fullmatch=True).filter(
        lambda text: any(word in text for word in FAULT_WORDS)
    )
)
@settings(
    max_examples=50, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
def test_every_list_with_faults_the_pattern_allows_is_read(text):
    try:
        entries = parse_list(text, limits=LIMITS)
    except StatusError:
        assert unsayable(text), text
    else:
        assert {entry.outcome for entry in entries} & set(Fault)


@pytest.mark.parametrize("word", FAULT_WORDS)
def test_each_fault_word_is_an_entry_taking_sleep_alone(word):
    assert re.fullmatch(CODES_PATTERN, f"200:0.9,{word}:0.1;sleep=5")
    (entry,) = parse_list(f"{word};sleep=5", limits=LIMITS)
    assert entry.outcome == word
    for option in ("stall=5", "truncate=1", "retry_after=2", "size=3", "rate=10"):
        assert not re.fullmatch(CODES_PATTERN, f"{word};{option}")
        with pytest.raises(StatusError, match="takes sleep alone"):
            parse_list(f"{word};{option}", limits=LIMITS)


@given(
    st.lists(
        st.sampled_from(
            [
                "200",
                *FAULT_WORDS,
                "reset:0.5",
                "garbage;sleep=3",
                "cut_head;size=1",
                "bad-chunk",
                "cut_headx",
                "Garbage",
                ":",
                "x",
                "Reset",
            ]
        )
    )
)
@settings(max_examples=200)
def test_every_list_with_faults_the_route_reads_fits_the_pattern(words):
    text = ",".join(words)
    try:
        parse_list(text, limits=LIMITS)
    except StatusError:
        assert not re.fullmatch(CODES_PATTERN, text) or unsayable(text)
        return
    assert re.fullmatch(CODES_PATTERN, text)


@given(st.from_regex(RETRY_AFTER_PATTERN, fullmatch=True))
def test_every_retry_after_the_pattern_allows_is_read(text):
    parse_retry_after(text)


@given(
    st.one_of(
        st.text(alphabet="0123456789date:nox", max_size=12),
        st.integers(0, 99999).map(str),
        st.integers(0, 99999).map(lambda n: f"date:{n}"),
    )
)
@settings(max_examples=300)
def test_every_retry_after_the_route_reads_fits_the_pattern(text):
    try:
        parse_retry_after(text)
    except StatusError:
        return
    assert re.fullmatch(RETRY_AFTER_PATTERN, text)


@given(st.text(alphabet="AZaz09-_:; \t!é\r\n", max_size=30))
@settings(max_examples=300)
def test_every_header_the_route_reads_fits_the_pattern(text):
    try:
        parse_header(text)
    except StatusError:
        return
    assert re.fullmatch(HEADER_PATTERN, text)
    assert len(text) <= MAX_HEADER_NAME + 1 + MAX_HEADER_VALUE


@given(st.from_regex(HEADER_PATTERN, fullmatch=True))
def test_every_header_the_pattern_allows_is_read_or_refused_by_name(text):
    # The pattern cannot list the refused names; any other refusal is a mismatch.
    try:
        parse_header(text)
    except StatusError as error:
        assert "may not be set" in str(error) or "at most" in str(error)
