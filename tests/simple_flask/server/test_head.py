"""The response head built by build_head(), held to waitress's own over a table of answers."""

import http.client
import itertools
import logging
import re
import time

import pytest
from waitress.task import Task, WSGITask
from waitress.utilities import build_http_date

from simple_flask.core.proofs import Kind
from simple_flask.server.waitress_internals import GracefulServer, head
from simple_flask.server.waitress_internals.faults import ServiceTask
from tests.support import LOOPBACK, serving_in_thread

VERSIONS_AND_CONNECTIONS = [
    ("1.1", None),
    ("1.1", "close"),
    ("1.1", "Close"),
    ("1.1", "keep-alive"),
    ("1.0", None),
    ("1.0", "keep-alive"),
    ("1.0", "Keep-Alive"),
    ("1.0", "close"),
]
STATUSES = ["200 OK", "101 Switching Protocols", "204 No Content", "304 Not Modified", "418 x"]
HEADER_SETS = [
    [],
    [("Content-Type", "text/plain"), ("Content-Length", "5")],
    [("content-length", "5"), ("x-request-id", "abc"), ("ACCESS-CONTROL-ALLOW-ORIGIN", "*")],
    [("Set-Cookie", "a=1"), ("X-B", "2"), ("set-cookie", "b=2"), ("SET-COOKIE", "c=3")],
    [("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("server", "app"), ("x--odd-", "1")],
    [("Connection", "close"), ("Vary", "Accept"), ("Cache-Control", "no-store")],
    [("X-Ünicode", "é"), ("Content-Length", "0"), ("Content-Length", "0")],
]
LENGTHS = [None, 0, 5]
IDENTS = ["simple_flask", "", "waitress"]
TABLE = [
    (version, connection, status, headers, length, ident)
    for (version, connection), status, headers, length, ident in itertools.product(
        VERSIONS_AND_CONNECTIONS, STATUSES, HEADER_SETS, LENGTHS, IDENTS
    )
]


def test_the_table_covers_every_branch_of_the_head():
    outcomes = [head.outcome(head.sample_task(sample), head.build_head) for sample in TABLE]
    heads = [answer[0] for answer in outcomes]
    assert len(TABLE) > 2000
    assert any(b"Transfer-Encoding: chunked" in h for h in heads)
    assert any(b"Connection: Keep-Alive" in h for h in heads)
    assert any(b"Connection: close" in h for h in heads)
    assert any(b"Via: " in h for h in heads)
    assert any(b"Server: " not in h for h in heads)
    assert any(answer[3] for answer in outcomes)  # chunked_response
    assert not all(answer[2] for answer in outcomes)  # close_on_finish


@pytest.mark.parametrize("version_and_connection", VERSIONS_AND_CONNECTIONS, ids=str)
def test_build_head_writes_and_sets_what_waitress_does(version_and_connection):
    for sample in TABLE:
        if sample[:2] != version_and_connection:
            continue
        ours = head.outcome(head.sample_task(sample), head.build_head)
        theirs = head.outcome(head.sample_task(sample), WSGITask.build_response_header)
        assert ours == theirs, sample


def test_the_head_of_a_status_answer_byte_for_byte():
    sample = head.SAMPLES[0]
    built, headers, close, chunked = head.outcome(head.sample_task(sample), head.build_head)
    assert built == (
        b"HTTP/1.1 418 I'm a Teapot\r\n"
        b"Content-Length: 16\r\n"
        b"Content-Type: text/plain\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
        b"Server: simple_flask\r\n"
        b"X-Request-Id: a\r\n\r\n"
    )
    assert (close, chunked) == (False, False)
    assert ("X-Request-Id", "a") in headers


def test_the_installed_waitress_builds_the_same_heads_and_the_server_uses_build_head(
    fresh_proofs,
):
    assert head.head_mismatch() is None
    task_class = head.fast_heads(ServiceTask)
    assert issubclass(task_class, ServiceTask) and task_class is not ServiceTask
    assert task_class.build_response_header is head.build_head
    server = GracefulServer(lambda environ, start_response: [], host=LOOPBACK, port=0)
    try:
        (listener,) = server.listeners()
        assert listener.channel_class.task_class.build_response_header is head.build_head
    finally:
        # The drain closes the sockets and stops the worker threads create_server started.
        server.drain(0)


@pytest.fixture
def server_task_class(fresh_proofs):
    """f(): the task class of a new server's connections, and the warnings logged building it."""

    def build():
        server = GracefulServer(lambda environ, start_response: [], host=LOOPBACK, port=0)
        try:
            (listener,) = server.listeners()
            return listener.channel_class.task_class
        finally:
            server.drain(0)

    return build


def test_a_waitress_building_other_heads_keeps_its_own_method(
    monkeypatch, caplog, server_task_class
):
    monkeypatch.setattr(head, "build_head", lambda task: b"HTTP/1.1 200 OK\r\n\r\n")
    assert "otherwise" in head.head_mismatch()
    with caplog.at_level(logging.WARNING, logger="simple_flask"):
        task = server_task_class()
    assert task.build_response_header is WSGITask.build_response_header
    assert "shortcut 'response heads' is off: this waitress writes the head" in caplog.text


def test_a_waitress_lacking_what_the_samples_use_keeps_its_own_method(
    monkeypatch, caplog, fresh_proofs
):
    monkeypatch.delattr(Task, "has_body")
    with caplog.at_level(logging.WARNING, logger="simple_flask"):
        assert fresh_proofs.holds("response heads", Kind.SHORTCUT, head.head_mismatch) is False
    assert "shortcut 'response heads' is off: AttributeError" in caplog.text


def test_names_are_kept_within_the_bound_and_still_capitalised_past_it():
    for number in range(head.NAMES_KEPT * 2):
        name = f"x-client-{number}"
        assert head.canonical_name(name) == f"X-Client-{number}"
    assert len(head._names) == head.NAMES_KEPT
    sample = ("1.1", None, "200 OK", [("x-never-seen", "1")], 0, "")
    assert b"\r\nX-Never-Seen: 1\r\n" in head.outcome(head.sample_task(sample), head.build_head)[0]


def test_the_date_text_follows_the_clock_second_by_second():
    for second in (1_700_000_000, 1_700_000_001, 1_700_000_000, 1_800_000_000):
        sample = ("1.1", None, "200 OK", [], 0, "")
        task = head.sample_task(sample)
        task.start_time = second + 0.999
        built = head.build_head(task)
        assert f"\r\nDate: {build_http_date(second)}\r\n".encode() in built


def test_a_real_server_sends_heads_built_by_build_head_with_the_current_date():
    def app(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain"), ("x-a-b", "1")])
        return [b"ok"]

    with serving_in_thread(app, ident="t") as port:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        for _ in range(3):
            before = int(time.time())
            connection.request("GET", "/")
            answer = connection.getresponse()
            assert answer.read() == b"ok"
            after = int(time.time())
            names = [name for name, _ in answer.getheaders()]
            assert names == ["Content-Length", "Content-Type", "Date", "Server", "X-A-B"]
            date = answer.getheader("Date")
            assert date in {build_http_date(second) for second in range(before, after + 1)}
            assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", date)
        connection.close()
