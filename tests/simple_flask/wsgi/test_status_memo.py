"""Replayed status answers are byte for byte those the Flask app gave."""

import itertools

import pytest
from flask import Flask, Response
from werkzeug.test import EnvironBuilder

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.core.status_codes import CATALOGUE
from simple_flask.testing.processes import free_port
from simple_flask.wsgi import status_memo
from simple_flask.wsgi.environ import DELIVERY, STATUS_REPLAYABLE, Delivery, set_server_defers
from simple_flask.wsgi.request_log import HEADER
from simple_flask.wsgi.status_memo import MAX_BODY, StatusMemo


def call(app, path, method="GET", headers=None, query_string=None):
    """Call a WSGI app; return its status, headers without X-Request-ID, and body."""
    environ = EnvironBuilder(
        path=path, method=method, headers=headers or {}, query_string=query_string
    ).get_environ()
    started = []
    body = app(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    status, headers = started[0]
    return status, [h for h in headers if h[0] != HEADER], data


@pytest.fixture(scope="module")
def service():
    return create_app({"SETTINGS": Settings(access_log=False)})


def memo_of(app) -> StatusMemo:
    return app.wsgi_app.app


HEADERS = {
    "text": {},
    "json": {"Accept": "application/json"},
    "text, origin": {"Origin": "https://a.example"},
    "json, origin": {"Accept": "application/json", "Origin": "https://a.example"},
}


@pytest.mark.parametrize(
    ("kind", "method"), list(itertools.product(sorted(HEADERS), ["GET", "HEAD"]))
)
def test_replayed_answers_equal_flask_answers(service, kind, method):
    memo = memo_of(service)
    flask_app = memo.app
    for code, _ in CATALOGUE:
        path = f"/status/{code}"
        direct = call(flask_app, path, method, HEADERS[kind])
        first = call(service.wsgi_app, path, method, HEADERS[kind])
        key = memo.key(
            EnvironBuilder(path=path, method=method, headers=HEADERS[kind]).get_environ()
        )
        assert key in memo.answers, path
        replayed = call(service.wsgi_app, path, method, HEADERS[kind])
        assert first == direct == replayed, path
        assert replayed[0].startswith(f"{code} ")


def test_a_replayed_answer_gets_its_own_request_id(service):
    started = []

    def start_response(status, headers, exc_info=None):
        started.append(dict(headers)[HEADER])

    for _ in range(3):
        service.wsgi_app(EnvironBuilder(path="/status/418").get_environ(), start_response)
    assert len(set(started)) == 3


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/status/418,200", None),
        ("/status/418:2", None),
        ("/status/418", "seed=1"),
        ("/status/418", "sleep=0"),
        ("/status/301", "location=/elsewhere"),
        ("/status/418/more", None),
        ("/status/4180", None),
        ("/status/41", None),
        ("/blueprint/418", None),
    ],
)
def test_lists_and_queries_never_reach_the_memo(path, query):
    app = create_app({"SETTINGS": Settings(access_log=False)})
    for _ in range(2):
        call(app.wsgi_app, path, query_string=query)
    assert memo_of(app).answers == {}


@pytest.mark.parametrize("method", ["POST", "PUT", "OPTIONS", "DELETE"])
def test_other_methods_never_reach_the_memo(method):
    app = create_app({"SETTINGS": Settings(access_log=False)})
    call(app.wsgi_app, "/status/418", method, {"Origin": "https://a.example"})
    assert memo_of(app).answers == {}


def test_the_memo_is_bounded():
    app = create_app({"SETTINGS": Settings(access_log=False)})
    memo = memo_of(app)
    memo.answers.size = 8
    for number in range(20):
        status, _, _ = call(app.wsgi_app, "/status/418", headers={"Accept": f"text/x{number}"})
        assert status.startswith("418 ")
    assert len(memo.answers) == 8
    long_accept = "text/plain;" + "a" * 600
    call(app.wsgi_app, "/status/200", headers={"Accept": long_accept})
    assert not any(long_accept in key for key in memo.answers)


def replayable_app(response: Response) -> Flask:
    app = Flask("memo")

    @app.get("/status/<code>")
    def answer(code):
        from flask import request

        request.environ[STATUS_REPLAYABLE] = True
        return response

    return app


@pytest.mark.parametrize(
    "response",
    [
        Response("x", headers={"Set-Cookie": "a=b"}),
        Response(b"x" * (MAX_BODY + 1)),
    ],
)
def test_answers_unsafe_to_replay_are_not_kept(response):
    memo = StatusMemo(replayable_app(response).wsgi_app, prefix="/status/")
    status, _, body = call(memo, "/status/200")
    assert (status, body) == ("200 OK", response.get_data())
    assert memo.answers == {}


def test_an_answer_the_view_did_not_mark_is_not_kept():
    app = Flask("memo")
    app.get("/status/<code>")(lambda code: "boom")
    memo = StatusMemo(app.wsgi_app, prefix="/status/")
    assert call(memo, "/status/200")[2] == b"boom"
    assert memo.answers == {}
    marked = StatusMemo(replayable_app(Response("fine")).wsgi_app, prefix="/status/")
    assert call(marked, "/status/200")[2] == b"fine"
    assert len(marked.answers) == 1


def deferred_call(app, path, query_string):
    """Call `app` as the service's server does, which waits out delays itself."""
    environ = EnvironBuilder(path=path, query_string=query_string).get_environ()
    started = []
    set_server_defers(True)
    try:
        body = app(environ, lambda status, headers, exc_info=None: started.append(status))
        data = b"".join(body)
        getattr(body, "close", lambda: None)()
    finally:
        set_server_defers(False)
    return started[0], data, environ.get(DELIVERY)


def test_a_fixed_sleep_is_replayed_with_its_delivery_where_the_server_defers():
    app = create_app({"SETTINGS": Settings(access_log=False)})
    answers = [deferred_call(app.wsgi_app, "/status/418", "sleep=250") for _ in range(3)]
    # Each one, replayed or not, leaves 250 ms late, by the server.
    assert answers == [("418 I'm a Teapot", b"418 I'm a Teapot", Delivery(wait=0.25))] * 3
    (key,) = memo_of(app).answers
    assert "sleep=250" in key


@pytest.mark.parametrize("query", ["sleep=1..5", "sleep=5&seed=1", "stall=5", "sleep=5&size=3"])
def test_other_delays_never_reach_the_memo_even_where_the_server_defers(query):
    app = create_app({"SETTINGS": Settings(access_log=False)})
    for _ in range(2):
        status, _, delivery = deferred_call(app.wsgi_app, "/status/418", query)
        assert status.startswith("418 ") and delivery is not None
    assert memo_of(app).answers == {}


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_a_sequence_of_plain_codes_is_answered_as_the_view_answers_it(kind):
    # Two apps: one answers through the memo, the other's Flask app alone.
    memoized = create_app({"SETTINGS": Settings(access_log=False)})
    direct = memo_of(create_app({"SETTINGS": Settings(access_log=False)})).app
    path, query = "/status/503,301,418", "sequence=walk"
    for attempt in range(1, 5):
        for method in ("GET", "HEAD"):
            replayed = call(memoized.wsgi_app, path, method, HEADERS[kind], query)
            served = call(direct, path, method, HEADERS[kind], query)
            assert replayed[0] == served[0] and replayed[2] == served[2], (attempt, method)
            # The same headers; their order differs, and waitress sorts them by name.
            assert sorted(replayed[1]) == sorted(served[1])
            assert ("X-Sequence-Attempt", str(2 * attempt - (method == "GET"))) in replayed[1]
    # Every answer after the first of each code came from the memo: none went
    # to Flask with the sequence's query.
    kept = {key[2] for key in memo_of(memoized).answers}
    assert kept == {"/status/503", "/status/301", "/status/418"}


def test_the_memo_takes_each_attempt_once_whatever_it_hands_to_the_app(monkeypatch):
    app = create_app({"SETTINGS": Settings(access_log=False)})
    memo = memo_of(app)
    store = app.extensions["simple_flask.sequences"]
    takes = []
    original = store.take
    monkeypatch.setattr(store, "take", lambda *args: takes.append(args) or original(*args))
    assert call(app.wsgi_app, "/status/418", query_string="sequence=once")[0].startswith("418")
    # A conflict takes nothing, in the memo or in the view: 409.
    status, _, body = call(app.wsgi_app, "/status/500", query_string="sequence=once")
    assert status.startswith("409") and b"once" in body
    assert store.record("once").count == 1
    # An answer the memo cannot keep (here: every body is too long to keep) is
    # served by the view, with the attempt the memo took, not a second one.
    memo.answers.clear()
    monkeypatch.setattr(status_memo, "MAX_BODY", 0)
    status, headers, _ = call(app.wsgi_app, "/status/418", query_string="sequence=once")
    assert status.startswith("418") and ("X-Sequence-Attempt", "2") in headers
    # Asked four times: two attempts, and the conflict, refused by the memo and the view.
    assert store.record("once").count == 2 and len(takes) == 4
    assert memo.answers == {}


def test_a_store_that_is_down_is_asked_once_and_answered_503():
    app = create_app(
        {"SETTINGS": Settings(access_log=False, state_url=f"redis://127.0.0.1:{free_port()}/0")}
    )
    store = app.extensions["simple_flask.sequences"]
    asked = []
    original = store.take
    store.take = lambda *args: asked.append(args) or original(*args)
    status, headers, body = call(app.wsgi_app, "/status/418", query_string="sequence=down")
    assert status.startswith("503") and ("Content-Type", "application/problem+json") in headers
    assert b"no entry of the sequence was served" in body
    assert len(asked) == 1
