"""The parsers of the status service's faults on demand: table-driven cases, then properties."""

from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_flask.core.entries import choose, parse_list, source_of
from simple_flask.core.errors import StatusError
from simple_flask.core.options import Limits, Span
from simple_flask.core.query import parse_query
from simple_flask.core.status_faults import (
    MAX_HEADERS,
    Fault,
    RetryAfter,
    check_body_fault,
    parse_header,
    parse_headers,
    parse_retry_after,
    parse_truncate,
)


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("reset", ((Fault.RESET, 1.0),)),
        ("close", ((Fault.CLOSE, 1.0),)),
        ("200:0.9,reset:0.1", ((200, 0.9), (Fault.RESET, 0.1))),
        ("200,close", ((200, 1.0), (Fault.CLOSE, 1.0))),
    ],
)
def test_fault_words_are_list_entries(text, entries):
    assert tuple((entry.outcome, entry.weight) for entry in parse_list(text)) == entries


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("RESET", "three ASCII digits"),
        ("truncate", "three ASCII digits"),
        ("reset:x", "weight of reset"),
        ("reset:0,close:0", "add up to more than 0"),
    ],
)
def test_fault_words_follow_the_list_rules(text, rule):
    with pytest.raises(StatusError, match=rule):
        parse_list(text)


def test_a_seed_picks_a_fault_like_a_code():
    entries = parse_list("200,close")
    picks = {choose(entries, source_of(seed)).outcome for seed in range(20)}
    assert picks == {200, Fault.CLOSE}
    assert choose(entries, source_of(3)) == choose(entries, source_of(3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", RetryAfter(0)),
        ("2", RetryAfter(2)),
        ("86400", RetryAfter(86400)),
        ("00007", RetryAfter(7)),
        ("date:1", RetryAfter(1, as_date=True)),
        ("none", RetryAfter(None)),
    ],
)
def test_retry_after_values(text, expected):
    assert parse_retry_after(text) == expected


@pytest.mark.parametrize(
    "text", ["", "-1", "86401", "123456", "1.5", "date:", "date:-1", "NONE", "date:none", "٢"]
)
def test_retry_after_refusals_name_the_rule(text):
    with pytest.raises(StatusError, match="retry_after must be"):
        parse_retry_after(text)


def test_retry_after_headers():
    now = 1_700_000_000.0
    assert RetryAfter(None).header(now) is None
    assert RetryAfter(5).header(now) == "5"
    date = RetryAfter(90, as_date=True).header(now)
    assert date.endswith(" GMT")
    assert parsedate_to_datetime(date).timestamp() == now + 90


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("5", 5), ("000000012", 12)])
def test_truncate_values(text, value):
    assert parse_truncate(text) == value


@pytest.mark.parametrize("text", ["", "-1", "1.0", "1234567890", "x", "٣"])
def test_truncate_refusals(text):
    with pytest.raises(StatusError, match="truncate must be"):
        parse_truncate(text)


@pytest.mark.parametrize(
    ("name", "code", "length", "truncate", "rule"),
    [
        ("truncate", 204, 0, 0, "a 204 answer has none"),
        ("stall", 304, 0, None, "stall needs an answer with a body"),
        ("truncate", 200, 6, 6, "from 0 to 5"),
    ],
)
def test_body_fault_refusals(name, code, length, truncate, rule):
    with pytest.raises(StatusError, match=rule):
        check_body_fault(name, code, length, truncate)


def test_body_faults_within_the_body_pass():
    check_body_fault("truncate", 200, 6, 0)
    check_body_fault("truncate", 200, 6, 5)
    check_body_fault("stall", 418, 16, None)


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("Cache-Control:max-age=60", ("Cache-Control", "max-age=60")),
        ("X-Test: a b\tc ", ("X-Test", "a b\tc")),
        ("X-Empty:", ("X-Empty", "")),
        ("x-Colon:a:b", ("x-Colon", "a:b")),
        ("X-Long:" + "v" * 1024, ("X-Long", "v" * 1024)),
    ],
)
def test_custom_headers(text, header):
    assert parse_header(text) == header


# What a proxy in front acts on, and what a browser keeps for the whole host:
# written out here, independently of the service's own list.
PROXY_CONTROLS = (
    "X-Accel-Redirect",
    "X-Accel-Limit-Rate",
    "X-Accel-Buffering",
    "X-Accel-Expires",
    "X-Accel-Charset",
    "X-Sendfile",
    "X-LiteSpeed-Location",
)
HOST_STATE = (
    "Clear-Site-Data",
    "Strict-Transport-Security",
    "NEL",
    "Report-To",
    "Reporting-Endpoints",
    "Alt-Svc",
    "Set-Cookie2",
    "Public-Key-Pins",
    "Expect-CT",
    "Origin-Agent-Cluster",
    "Accept-CH",
)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("NoColon", "Name:Value"),
        (":value", "Name:Value"),
        ("Bad Name:x", "Name:Value"),
        ("X-Ü:x", "Name:Value"),
        ("X-A:caf\u00e9", "visible ASCII"),
        ("X-A:a\r\nSet-Cookie: x=1", "visible ASCII"),
        ("X-A:" + "v" * 1025, "at most 1024"),
    ]
    + [
        (f"{name}:x", f"header {name} may not be set")
        for name in (
            "Connection",
            "keep-alive",
            "Proxy-Authenticate",
            "Proxy-Anything",
            "TE",
            "Trailer",
            "Transfer-Encoding",
            "Upgrade",
            "Content-Length",
            "Set-Cookie",
            "Access-Control-Allow-Origin",
            "Content-Type",
            "X-Content-Type-Options",
            "Location",
            "Refresh",
            "Retry-After",
            "X-Request-ID",
        )
    ]
    + [(f"{name}:x", f"header {name} may not be set: a proxy in front") for name in PROXY_CONTROLS]
    + [(f"{name}:x", f"header {name} may not be set: a browser would keep") for name in HOST_STATE],
)
def test_custom_header_refusals_name_the_header_and_rule(text, rule):
    with pytest.raises(StatusError, match=rule):
        parse_header(text)


def test_the_headers_of_one_answer_fit_a_budget_of_head_bytes():
    # Each header costs its name twice (it is exposed to CORS too), its value and 6 bytes.
    fits = [f"X-{n}:" + "v" * (2048 // 2 - 6 - 2 * 3) for n in range(2)]
    assert sum(2 * 3 + len(text) - 4 + 6 for text in fits) == 2048
    assert len(parse_headers(fits)) == 2
    with pytest.raises(StatusError, match="at most 2048 bytes of the answer's head"):
        parse_headers([*fits, "X-C:v"])
    # Eight headers of 900 bytes: far over.
    with pytest.raises(StatusError, match="got 7"):
        parse_headers([f"X-{n}:" + "v" * 900 for n in range(8)])


def test_at_most_twenty_headers():
    assert len(parse_headers([f"X-{n}:v" for n in range(MAX_HEADERS)])) == MAX_HEADERS
    with pytest.raises(StatusError, match="at most 20 headers"):
        parse_headers([f"X-{n}:v" for n in range(MAX_HEADERS + 1)])


def test_the_query_reads_every_fault_parameter():
    query = parse_query(
        {
            "stall": ["250"],
            "truncate": ["3"],
            "retry_after": ["date:2"],
            "header": ["X-A:1", "X-B:2"],
        },
        Limits(max_sleep_ms=1000),
    )
    assert (query.options.stall, query.options.truncate) == (Span(250, 250), 3)
    assert query.options.retry_after == RetryAfter(2, as_date=True)
    assert query.headers == (("X-A", "1"), ("X-B", "2"))


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"stall": ["1001"]}, "stall must be a whole number of milliseconds from 0 to 1000"),
        ({"truncate": ["1", "2"]}, "truncate may be given only once"),
        ({"retry_after": ["soon"]}, "retry_after must be"),
    ],
)
def test_query_refusals(args, rule):
    with pytest.raises(StatusError, match=rule):
        parse_query(args, Limits(max_sleep_ms=1000))


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@given(TEXT)
def test_retry_after_raises_only_status_errors(text):
    try:
        parsed = parse_retry_after(text)
    except StatusError:
        return
    assert parsed.seconds is None or 0 <= parsed.seconds <= 86400


@given(TEXT)
def test_truncate_raises_only_status_errors(text):
    try:
        assert parse_truncate(text) >= 0
    except StatusError:
        pass


@given(TEXT)
def test_a_header_raises_only_status_errors(text):
    try:
        name, value = parse_header(text)
    except StatusError:
        return
    assert name and "\r" not in value and "\n" not in value


@given(st.lists(st.sampled_from(["200", "reset", "close", "reset:0.5", "x", ""]), max_size=5))
def test_lists_with_faults_raise_only_status_errors(words):
    try:
        entries = parse_list(",".join(words))
    except StatusError:
        return
    assert all(entry.outcome in (200, Fault.RESET, Fault.CLOSE) for entry in entries)


@pytest.mark.parametrize("word", ["garbage", "bad_chunk", "cut_head"])
def test_malformed_answers_are_entries_like_the_connection_faults(word):
    (entry,) = parse_list(f"{word}:0.5;sleep=10")
    assert (str(entry.outcome), entry.weight, entry.options.sleep) == (word, 0.5, Span(10, 10))
    with pytest.raises(
        StatusError, match=f"{word} sends no answer of the app's, so it takes no size"
    ):
        parse_list(f"{word};size=3")


@given(
    st.dictionaries(
        st.sampled_from(["stall", "truncate", "retry_after", "header", "sleep", "seed"]),
        st.lists(TEXT, min_size=1, max_size=3),
    )
)
def test_the_query_raises_only_status_errors(args):
    try:
        parse_query(args, Limits(max_sleep_ms=1000))
    except StatusError:
        pass
