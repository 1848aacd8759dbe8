"""Replayed status answers are byte for byte those the Flask app gave."""

import itertools

import pytest
from flask import Flask, Response
from werkzeug.test import EnvironBuilder

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.core.status_codes import CATALOGUE
from simple_flask.wsgi.environ import STATUS_REPLAYABLE
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
