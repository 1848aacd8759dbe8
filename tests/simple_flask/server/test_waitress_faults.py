"""The waitress internals behind connection faults, driven through a real GracefulServer.

A request the app marks (simple_flask.wsgi.environ) must get no byte of an
answer: a reset (RST) or a clean close (FIN), after any answer to an earlier
pipelined request has gone out whole.
"""

import logging

import pytest

from simple_flask.core.status_faults import Fault
from simple_flask.wsgi.environ import mark_fault
from simple_flask.wsgi.request_log import RequestLog
from tests.simple_flask.server.test_waitress_internals import serving
from tests.support import exchange

pytestmark = pytest.mark.slow

OK = b"HTTP/1.1 200 OK"


def fault_app(environ, start_response):
    """/reset and /close ask for that fault, /truncate cuts its body; anything else answers ok."""
    path = environ["PATH_INFO"]
    body = b"ok"
    if path in ("/reset", "/close"):
        mark_fault(environ, Fault(path[1:]))
        body = b"stand-in"
    length = len(body)
    if path == "/truncate":
        mark_fault(environ, Fault.TRUNCATE)
        body, length = b"cut", 10
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(length))])
    return [body]


@pytest.mark.parametrize(("path", "ending"), [("/reset", "reset"), ("/close", "close")])
def test_a_connection_fault_sends_not_a_byte(path, ending):
    with serving(app=fault_app) as (_, port, _):
        assert exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == (b"", ending)


@pytest.mark.parametrize(("path", "ending"), [("/reset", "reset"), ("/close", "close")])
def test_an_earlier_pipelined_answer_goes_out_whole_first(path, ending):
    with serving(app=fault_app) as (_, port, _):
        pipelined = f"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
        data, how = exchange(port, pipelined.encode())
    if how == "reset":
        # A reset may overtake bytes the client had not read yet; none of the
        # stand-in may ever arrive.
        assert data == b"" or data.startswith(OK)
    else:
        assert data.startswith(OK) and data.endswith(b"\r\n\r\nok")
    assert how == ending
    assert b"stand-in" not in data


def test_the_connection_after_a_fault_is_served_normally():
    with serving(app=fault_app) as (_, port, _):
        for path in ("/reset", "/close", "/reset"):
            exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data, how = exchange(port, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(OK) and (data.endswith(b"ok"), how) == (True, "close")


def test_a_truncated_body_closes_the_connection_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="waitress"):
        with serving(app=fault_app) as (_, port, _):
            data, how = exchange(port, b"GET /truncate HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Content-Length: 10\r\n" in data and data.endswith(b"\r\n\r\ncut")
    assert how == "close"
    assert not [record for record in caplog.records if "too few bytes" in record.getMessage()]


def test_a_reset_is_logged_once_with_its_fault(capsys):
    with serving(app=RequestLog(fault_app)) as (_, port, _):
        exchange(port, b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
    lines = [line for line in capsys.readouterr().out.splitlines() if '"path":"/reset"' in line]
    assert len(lines) == 1 and lines[0].endswith(',"fault":"reset"}')
