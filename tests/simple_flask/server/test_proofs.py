"""The start-up proofs: each holds on this waitress, and each fails on a waitress that breaks it.

A broken waitress is played by a channel class with one part put back to
waitress's own (its parser, its received(), its service()) or left out: the
proof of what that part guards must fail, by what a client sees. Then the
wiring: a guard that fails stops the server from starting, with one line;
a feature or shortcut that fails is switched off, with one warning.
"""

import logging
import socket
import subprocess
import sys

import pytest
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import WSGITask

from simple_flask.core.proofs import Kind, UnprovenGuard
from simple_flask.server.waitress_internals import (
    GracefulServer,
    faults,
    guards,
    parser,
    probe,
    proofs,
)
from simple_flask.server.waitress_internals.accept import accept_batch
from simple_flask.server.waitress_internals.channel import problem_channel
from simple_flask.server.waitress_internals.faults import ServiceTask, fault_channel
from simple_flask.server.waitress_internals.head import build_head
from simple_flask.wsgi.environ import server_defers
from tests.support import LOOPBACK, ROOT, exchange, free_port, serving_in_thread

pytestmark = pytest.mark.slow

OPTIONS = {"max_request_body_size": 1001}


def ok_app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def test_every_guard_feature_and_shortcut_holds_on_this_waitress(fresh_proofs):
    server = GracefulServer(ok_app, host=LOOPBACK, port=0, threads=2)
    try:
        verdicts = fresh_proofs.verdicts()
        (listener,) = server.listeners()
        task = listener.channel_class.task_class
    finally:
        server.drain(0)
    assert {name for name, (kind, _) in verdicts.items() if kind is Kind.GUARD} == set(
        guards.GUARDS
    )
    assert {name: why for name, (_, why) in verdicts.items() if why is not None} == {}
    # Faults, late answers and the cheaper heads are on: the tasks are the
    # service's, deferring late answers and building heads fast.
    assert issubclass(task, ServiceTask) and task.build_response_header is build_head
    assert task.defers


def base():
    return problem_channel(lambda line: None)


def broken(**parts):
    """The service's channel class with `parts` put in place of its own."""
    return type("Broken", (fault_channel(base(), heads=True, defers=True),), parts)


def prove_with(proof, channel_class):
    """Run `proof` on a ProbeServer of `channel_class`; return its verdict, or the error it met."""
    with proofs._probes(OPTIONS) as make:
        try:
            return proof(make(channel_class))
        except AssertionError as error:
            return f"no outcome: {error}"


def test_each_proof_holds_on_the_service_channel():
    channel = fault_channel(base(), heads=True, defers=True)
    for proof in (proofs.prove_faults, proofs.prove_late, *guards.GUARDS.values()):
        assert prove_with(proof, channel) is None, proof.__name__


@pytest.fixture
def patient(monkeypatch):
    """A probe that gives up on a missing outcome quickly: a broken part leaves one missing."""
    monkeypatch.setattr(probe, "EXCHANGE_SECONDS", 0.5)


UPSTREAM_RECEIVED = {"received": HTTPChannel.received}
UNDEFERRED = type("Undeferred", (ServiceTask,), {"defers": False})


def send_at_once(self, pieces, delivery, request, close, after=None):
    """A deliver() that ignores when the answer is due."""
    self.delivering += 1
    self._send(b"".join(pieces), True, close, after)


@pytest.mark.parametrize(
    ("proof", "parts", "why"),
    [
        (guards.prove_framing, {"parser_class": HTTPRequestParser}, "200 OK"),
        # Upstream reads empty lines for ever: no outcome is the failure.
        (guards.prove_empty_lines, UPSTREAM_RECEIVED, "no outcome"),
        (guards.prove_expect, UPSTREAM_RECEIVED, "100 Continue"),
        (guards.prove_queue, UPSTREAM_RECEIVED, "parsed at once"),
        (guards.prove_answer_cap, {"service": HTTPChannel.service}, "no outcome"),
        (guards.prove_drain, {"begin_last_call": lambda self: None}, "still open"),
        (proofs.prove_faults, {"task_class": WSGITask}, "answered"),
        # A task that does not defer: the app answers /late at once.
        (proofs.prove_late, {"task_class": UNDEFERRED}, "before it was due"),
        # A channel that sends a late answer when it is handed over.
        (proofs.prove_late, {"deliver": send_at_once}, "before it was due"),
        # A channel that never sends it: the worker thread is free, the answer lost.
        (proofs.prove_late, {"deliver": lambda self, *args: None}, "no outcome"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_a_proof_fails_when_its_part_is_waitresss_own(patient, proof, parts, why):
    assert why in (prove_with(proof, broken(**parts)) or "")


def test_a_guard_that_fails_stops_the_server_before_it_listens(monkeypatch, fresh_proofs):
    monkeypatch.setitem(guards.GUARDS, "empty lines bounded", lambda probe: "as a test")
    port = free_port()
    with pytest.raises(UnprovenGuard, match="'empty lines bounded' on this waitress: as a test"):
        GracefulServer(ok_app, host=LOOPBACK, port=port, threads=2)
    # Refused before it listened: the port is free.
    with socket.socket() as again:
        again.bind((LOOPBACK, port))


def served_with_warning(app, caplog, words: str) -> tuple[bytes, str]:
    """Serve `app` with waitress in a thread, ask it once; return the answer and the one
    WARNING line holding `words`."""
    with caplog.at_level(logging.WARNING, logger="simple_flask"):
        with serving_in_thread(app) as port:
            data, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    (line,) = [r.getMessage() for r in caplog.records if words in r.getMessage()]
    return data, line


def test_connection_faults_that_fail_are_off_and_the_stand_in_is_sent(
    monkeypatch, caplog, fresh_proofs
):
    monkeypatch.setattr(ServiceTask, "write", WSGITask.write)

    from simple_flask.core.status_faults import Fault
    from simple_flask.wsgi.environ import mark_fault

    def app(environ, start_response):
        mark_fault(environ, Fault.RESET)
        start_response("501 Not Implemented", [("Content-Length", "8")])
        return [b"stand-in"]

    data, line = served_with_warning(app, caplog, "connection faults")
    assert data.startswith(b"HTTP/1.1 501 ") and data.endswith(b"stand-in")
    assert line.startswith("feature 'connection faults' is off: ")
    assert fresh_proofs.verdicts()["connection faults"][1] is not None


def test_the_command_line_refuses_to_start_with_one_line_naming_the_guard():
    script = (
        "import sys\n"
        "from simple_flask.server.waitress_internals import guards\n"
        "guards.GUARDS['ambiguous framing refused'] = lambda probe: 'as a test'\n"
        "from simple_flask.server.cli import main\n"
        f"sys.argv = ['simple-flask', 'serve', '--port', '{free_port()}']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("simple-flask:")]
    assert "'ambiguous framing refused'" in line and "refusing to start" in line
    assert "Traceback" not in result.stderr


def test_malformed_answers_fail_their_proof_when_the_task_sends_none(patient, monkeypatch):
    # The task looks its bytes up in faults.MALFORMED; the proof keeps its own reference.
    monkeypatch.setattr(faults, "MALFORMED", {})
    why = prove_with(proofs.prove_faults, broken())
    assert why is not None and why.startswith("garbage sent b''")


def test_late_answers_that_fail_are_off_and_the_worker_thread_waits(
    monkeypatch, caplog, fresh_proofs
):
    monkeypatch.setattr(proofs, "prove_late", lambda probe: "as a test")
    seen = []

    def app(environ, start_response):
        seen.append(server_defers())
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    data, line = served_with_warning(app, caplog, "late answers")
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok")
    # The app is not told that the server defers: it waits itself, in a sleep slot.
    assert seen == [False]
    assert line == "feature 'late answers without a thread' is off: as a test"


def test_accepting_in_batches_fails_its_proof_on_waitresss_own_accept(monkeypatch):
    # The listener keeps waitress's handle_accept: one connection a turn.
    monkeypatch.setattr(proofs, "batched", lambda listener: None)
    why = prove_with(proofs.prove_accept, fault_channel(base(), heads=True, defers=True))
    assert why == f"one turn of the loop accepted 1 of {proofs.ACCEPT_PROBE} waiting connections"


def test_the_service_listener_accepts_in_batches(fresh_proofs):
    server = GracefulServer(ok_app, host=LOOPBACK, port=0, threads=2)
    try:
        (listener,) = server.listeners()
        assert fresh_proofs.verdicts()["accepting in batches"][1] is None
        assert listener.handle_accept.func is accept_batch
    finally:
        server.drain(0)


def test_a_431_without_its_origin_fails_its_proof(monkeypatch):
    # The parser no longer recognises waitress's stand-in head: the Origin is not read.
    monkeypatch.setattr(parser, "TOO_LARGE_STAND_IN", b"not the stand-in")
    assert proofs.prove_too_large_origin() == "the 431's request names the Origin None"
    monkeypatch.undo()
    assert proofs.prove_too_large_origin() is None
