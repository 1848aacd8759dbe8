"""The access log names the faults an answer carried, in a "fault" field of its one line."""

import json

import pytest

from simple_flask.core.status_faults import Fault
from simple_flask.wsgi.access_line import access_line
from simple_flask.wsgi.environ import mark_fault
from simple_flask.wsgi.request_log import RequestLog


def logged(capsys, app, path: str = "/status/x") -> list[dict]:
    wrapped = RequestLog(app)
    body = wrapped(
        {"REQUEST_METHOD": "GET", "PATH_INFO": path}, lambda status, headers, exc_info=None: None
    )
    list(body)
    body.close()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize(
    ("faults", "field"),
    [
        ((Fault.RESET,), "reset"),
        ((Fault.CLOSE,), "close"),
        ((Fault.TRUNCATE, Fault.STALL), "truncate+stall"),
    ],
)
def test_the_fault_is_named_on_the_requests_line(capsys, faults, field):
    def app(environ, start_response):
        for fault in faults:
            mark_fault(environ, fault)
        start_response("501 Not Implemented", [])
        return [b"stand-in"]

    (line,) = logged(capsys, app)
    assert line["fault"] == field
    assert line["status"] == 501


def test_a_line_without_a_fault_has_no_fault_field(capsys):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    (line,) = logged(capsys, app)
    assert "fault" not in line
    assert access_line(0.0, "GET", "/", 200, 1.0, 2, None, "id").endswith('"request_id":"id"}\n')
