"""The document's patterns for faults on demand, checked both ways against the parsers."""

import re

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
from tests.simple_flask.apidoc.test_openapi import _PARAMETERS, CODES_PATTERN

RETRY_AFTER_PATTERN = _PARAMETERS["RetryAfter"]["schema"]["pattern"]
HEADER_PATTERN = _PARAMETERS["Header"]["schema"]["items"]["pattern"]


@given(st.from_regex(CODES_PATTERN, fullmatch=True).filter(lambda t: "reset" in t or "close" in t))
@settings(
    max_examples=100, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
def test_every_list_with_faults_the_pattern_allows_is_read(text):
    try:
        entries = parse_list(text)
    except StatusError as error:
        assert "add up to" in str(error)
    else:
        assert {Fault.RESET, Fault.CLOSE} & {entry.outcome for entry in entries}


@given(st.lists(st.sampled_from(["200", "reset", "close", "reset:0.5", ":", "x", "Reset"])))
@settings(max_examples=200)
def test_every_list_with_faults_the_route_reads_fits_the_pattern(words):
    text = ",".join(words)
    try:
        parse_list(text)
    except StatusError:
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
