"""The memoized CORS headers are exactly those flask-cors alone would set."""

import itertools

import pytest
from flask import Flask, Response

from simple_flask.core.settings import Settings
from simple_flask.rest.cors import (
    MAX_MEMO_KEY,
    MEMO_SIZE,
    CorsMemo,
    configure_cors,
    take_flask_cors_hook,
)

ORIGINS = (None, "", "https://a.example", "http://[::1]:8080", "https://A.EXAMPLE", "null", "x")
PREFLIGHT_METHODS = (None, "", "GET", "put", "DELETE", "PROPFIND")
REQUEST_HEADERS = (None, "", "X-Trace", "content-type, X-Trace", "a,b , c")
PRIVATE_NETWORK = (None, "true", "false")
SETTINGS = {
    "any": Settings(cors_origins=("*",)),
    "listed": Settings(cors_origins=("https://a.example", "http://[::1]:8080")),
}


def shapes():
    """Request shapes: simple requests with every Origin, and preflights of many kinds."""
    for method, origin, network in itertools.product(
        ("GET", "HEAD", "POST", "PUT"), ORIGINS, PRIVATE_NETWORK
    ):
        yield method, origin, None, None, network
    for origin, request_method, request_headers, network in itertools.product(
        ORIGINS, PREFLIGHT_METHODS, REQUEST_HEADERS, PRIVATE_NETWORK
    ):
        yield "OPTIONS", origin, request_method, request_headers, network


def request_headers(origin, request_method, request_headers, network):
    names = (
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
        "Access-Control-Request-Private-Network",
    )
    values = (origin, request_method, request_headers, network)
    return {name: value for name, value in zip(names, values, strict=True) if value is not None}


@pytest.fixture(params=sorted(SETTINGS))
def configured(request):
    app = Flask("cors_memo")
    memo = configure_cors(app, SETTINGS[request.param])
    return app, memo


def test_memoized_headers_equal_flask_cors_alone(configured):
    app, memo = configured
    checked = 0
    for method, *headers in shapes():
        path = f"/any/path/{checked}"
        with app.test_request_context(path, method=method, headers=request_headers(*headers)):
            alone = memo.compute(Response("body"))
            # The first call computes and keeps, the second copies from the memo.
            for _ in range(2):
                memoized = memo(Response("body"))
                expected = list(alone.headers)
                if memo.vary_origin:
                    expected.append(("Vary", "Origin"))
                assert sorted(memoized.headers) == sorted(expected), (method, headers)
        checked += 1
    assert checked > 500
    assert 0 < len(memo.memo) <= MEMO_SIZE


def test_the_memo_adds_headers_only_to_answers_without_them(configured):
    app, memo = configured
    with app.test_request_context("/", headers={"Origin": "https://a.example"}):
        decorated = Response(headers={"Access-Control-Allow-Origin": "https://b.example"})
        before = list(decorated.headers)
        memo(decorated)
        assert [h for h in decorated.headers if h[0] != "Vary"] == before


def test_the_memo_is_bounded_and_keeps_no_long_values():
    app = Flask("cors_memo")
    memo = configure_cors(app, SETTINGS["any"])
    for number in range(MEMO_SIZE + 50):
        with app.test_request_context("/", headers={"Origin": f"https://{number}.example"}):
            assert memo(Response()).headers["Access-Control-Allow-Origin"] == "*"
    assert len(memo.memo) == MEMO_SIZE
    memo.memo.clear()
    long_origin = "https://" + "a" * MAX_MEMO_KEY + ".example"
    with app.test_request_context("/", headers={"Origin": long_origin}):
        assert memo(Response()).headers["Access-Control-Allow-Origin"] == "*"
    assert memo.memo == {}


def test_the_app_runs_the_memo_instead_of_flask_cors_hook():
    from simple_flask import create_app

    app = create_app({"SETTINGS": Settings()})
    names = [hook.__name__ for hook in app.after_request_funcs[None]]
    assert names == ["finish"]


def test_a_flask_cors_that_registers_something_else_fails_loudly():
    app = Flask("cors_memo")
    app.after_request(lambda response: response)
    with pytest.raises(RuntimeError, match="cors_after_request"):
        take_flask_cors_hook(app)
    with pytest.raises(RuntimeError):
        take_flask_cors_hook(Flask("empty"))


def test_flask_cors_hook_is_found_by_name_and_module():
    from flask_cors import CORS

    app = Flask("cors_memo")
    CORS(app)
    hook = take_flask_cors_hook(app)
    assert (hook.__name__, hook.__module__) == ("cors_after_request", "flask_cors.extension")
    assert app.after_request_funcs[None] == []
    assert isinstance(CorsMemo(hook), CorsMemo)
