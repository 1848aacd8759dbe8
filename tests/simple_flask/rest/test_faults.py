"""Faults on demand through Flask's test client: what the app answers and marks for the server."""

import math
import threading
import time
from email.utils import parsedate_to_datetime

import pytest

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.core.status_faults import Fault
from simple_flask.wsgi.environ import (
    FAULTS,
    STATUS_REPLAYABLE,
    faults_of,
    mark_fault,
    server_fault,
)
from tests.simple_flask.rest.test_status import assert_refused

SEEN: list[dict] = []


@pytest.fixture
def client(app):
    """A test client whose app keeps each WSGI environ it served, for environ_of()."""
    inner = app.wsgi_app

    def keeping(environ, start_response):
        SEEN.append(environ)
        return inner(environ, start_response)

    app.wsgi_app = keeping
    SEEN.clear()
    return app.test_client()


def environ_of(response) -> dict:
    """The environ the app served `response` from: the last one it saw."""
    return SEEN[-1]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "fault", [Fault.RESET, Fault.CLOSE, Fault.GARBAGE, Fault.BAD_CHUNK, Fault.CUT_HEAD]
)
def test_a_fault_the_server_answers_is_marked_and_a_stand_in_answered(client, method, fault):
    response = client.open(f"/status/{fault}", method=method)
    assert faults_of(environ_of(response)) == (fault,)
    assert server_fault(environ_of(response)) is fault
    # What a server that cannot drop connections sends instead.
    assert response.status_code == 501
    assert response.headers["Content-Type"] == "application/problem+json"
    if method != "HEAD":
        assert "only `simple-flask serve` does" in response.get_json(force=True)["detail"]
    assert STATUS_REPLAYABLE not in environ_of(response)


def test_weights_and_seeds_pick_faults_like_codes(client):
    picked = {client.get(f"/status/200,close?seed={seed}").status_code for seed in range(12)}
    assert picked == {200, 501}
    again = [client.get("/status/200,close?seed=3").status_code for _ in range(3)]
    assert len(set(again)) == 1
    assert client.get("/status/200:1,reset:0").status_code == 200


def test_truncate_cuts_the_body_but_not_its_length(client):
    response = client.get("/status/200?truncate=3")
    assert response.headers["Content-Length"] == "6"
    assert response.get_data() == b"200"
    assert faults_of(environ_of(response)) == (Fault.TRUNCATE,)
    json_answer = client.get("/status/418?truncate=0", headers={"Accept": "application/json"})
    assert json_answer.get_data() == b""
    assert int(json_answer.headers["Content-Length"]) > 0


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/status/200?truncate=6", "truncate must be from 0 to 5"),
        ("/status/204?truncate=0", "this 204 answer has none"),
        ("/status/304?stall=10", "stall needs an answer with a body"),
        ("/status/200?truncate=-1", "truncate must be a whole number"),
        ("/status/200?stall=10001", "stall must be a whole number of milliseconds"),
        ("/status/429?retry_after=86401", "retry_after must be"),
        ("/status/200?header=Set-Cookie:a=1", "header Set-Cookie may not be set"),
        ("/status/200?header=Access-Control-Allow-Origin:x", "Access-Control-Allow-Origin"),
        ("/status/200?" + "&".join(f"header=X-{n}:v" for n in range(21)), "at most 20"),
    ],
)
def test_refusals(client, path, detail):
    assert_refused(client.get(path), detail)


def test_stall_sends_the_body_late(client):
    started = time.monotonic()
    response = client.get("/status/200?stall=200")
    assert response.get_data() == b"200 OK"
    assert time.monotonic() - started >= 0.2
    assert faults_of(environ_of(response)) == (Fault.STALL,)


def test_stalls_take_sleep_slots(gated_sleep):
    app = create_app({"TESTING": True, "SETTINGS": Settings(threads=2)})
    # One slot, held by a stall in another thread while the checks below run.
    stalled = threading.Thread(
        target=lambda: app.test_client().get("/status/200?stall=1500").get_data()
    )
    stalled.start()
    client = app.test_client()
    try:
        assert gated_sleep.entered.acquire(timeout=30), "the stall never took its slot"
        assert client.get("/status/200?sleep=1").status_code == 503
        refused = client.get("/status/200?stall=1")
        assert refused.status_code == 503
        assert "sleep slots are taken" in refused.get_json(force=True)["detail"]
    finally:
        gated_sleep.gate.set()
        stalled.join(30)
    assert client.get("/status/200?stall=1").get_data() == b"200 OK"
    # Only the two stalls that had the slot waited in it.
    assert gated_sleep.calls == [1.5, 0.001]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/status/429?retry_after=none", None),
        ("/status/503?retry_after=none", None),
        ("/status/503?retry_after=7", "7"),
        ("/status/200?retry_after=0", "0"),
        ("/status/204?retry_after=86400", "86400"),
        ("/status/429", "1"),
    ],
)
def test_retry_after_of_the_tests_choosing(client, path, expected):
    assert client.get(path).headers.get("Retry-After") == expected


def test_retry_after_as_a_date(client):
    before = time.time()
    value = client.get("/status/503?retry_after=date:120").headers["Retry-After"]
    when = parsedate_to_datetime(value).timestamp()
    # The date is rounded up to a whole second: never earlier than asked.
    assert before + 120 <= when <= math.ceil(time.time()) + 120


def test_custom_headers_replace_defaults_and_are_exposed(client):
    response = client.get(
        "/status/200?header=Cache-Control:max-age=60&header=X-Trace:a&header=X-Trace:b",
        headers={"Origin": "http://page.example"},
    )
    assert response.headers["Cache-Control"] == "max-age=60"
    assert response.headers.getlist("X-Trace") == ["a", "b"]
    exposed = [
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    ]
    assert {"Cache-Control", "X-Trace", "Retry-After", "X-Request-ID"} <= set(exposed)
    assert exposed.count("X-Trace") == 1
    # The next answer to the same shape of request exposes only the defaults.
    plain = client.get("/status/200", headers={"Origin": "http://page.example"})
    assert "X-Trace" not in plain.headers["Access-Control-Expose-Headers"]
    assert plain.headers["Cache-Control"] == "no-store"


def test_a_custom_header_replaces_a_per_code_one(client):
    response = client.get("/status/401?header=WWW-Authenticate:Bearer")
    assert response.headers.getlist("WWW-Authenticate") == ["Bearer"]


def test_the_memo_still_serves_plain_requests(client):
    first = client.get("/status/418")
    assert environ_of(first).get(STATUS_REPLAYABLE) is True
    assert FAULTS not in environ_of(first)
    faulty = client.get("/status/418?retry_after=3")
    assert STATUS_REPLAYABLE not in environ_of(faulty)


def test_marks_accumulate_in_order():
    environ: dict = {}
    mark_fault(environ, Fault.TRUNCATE)
    mark_fault(environ, Fault.STALL)
    assert faults_of(environ) == (Fault.TRUNCATE, Fault.STALL)
    assert server_fault(environ) is None
    assert faults_of({}) == ()
