"""The memoized CORS headers are exactly those flask-cors alone would set."""

import itertools

import pytest
from flask import Flask, Response, request

from simple_flask.core.settings import Settings
from simple_flask.rest import cors
from simple_flask.rest.cors import EXPOSE_HEADERS, configure_cors, registered_by
from simple_flask.rest.cors_memo import MAX_MEMO_KEY, MEMO_SIZE, CorsMemo, prove, simple_headers

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
    # Preflights: simple requests under "*" take the constant set, not the memo.
    for number in range(MEMO_SIZE + 50):
        origin = {"Origin": f"https://{number}.example", "Access-Control-Request-Method": "PUT"}
        with app.test_request_context("/", method="OPTIONS", headers=origin):
            assert memo(Response()).headers["Access-Control-Allow-Origin"] == "*"
    assert len(memo.memo) == MEMO_SIZE
    memo.memo.clear()
    long_origin = "https://" + "a" * MAX_MEMO_KEY + ".example"
    with app.test_request_context("/", method="OPTIONS", headers={"Origin": long_origin}):
        assert memo(Response()).headers["Access-Control-Allow-Origin"] == "*"
    assert memo.memo == {}


def test_simple_requests_under_any_origin_get_one_set_found_by_flask_cors():
    any_origin = configure_cors(Flask("cors_memo"), SETTINGS["any"])
    simple = dict(any_origin.simple)
    assert set(simple) == {"Access-Control-Allow-Origin", "Access-Control-Expose-Headers"}
    assert simple["Access-Control-Allow-Origin"] == "*"
    assert set(simple["Access-Control-Expose-Headers"].split(", ")) == set(EXPOSE_HEADERS)
    # With a list the headers depend on the Origin: there is no constant set.
    assert configure_cors(Flask("cors_memo"), SETTINGS["listed"]).simple is None


def test_no_constant_set_when_flask_cors_answers_simple_requests_differently():
    app = Flask("cors_memo")

    def by_origin(response):
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        return response

    assert simple_headers(app, by_origin) is None


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("path", ["/Ann/", "/no/such/path", "/status/201", "/openapi.json"])
def test_the_app_answers_carry_exactly_flask_cors_headers(setting, path):
    """Through the app's own response class: the CORS headers are flask-cors's, nothing else."""
    from simple_flask import create_app

    app = create_app({"TESTING": True, "SETTINGS": SETTINGS[setting]})
    alone = Flask("cors_memo")
    hook = configure_cors(alone, SETTINGS[setting]).compute
    client = app.test_client()
    checked = 0
    for method, *headers in shapes():
        sent = request_headers(*headers)
        answer = client.open(path, method=method, headers=sent)
        with alone.test_request_context(path, method=method, headers=sent):
            expected = [h for h in hook(Response()).headers if h[0].startswith("Access-Control-")]
        got = [h for h in answer.headers if h[0].startswith("Access-Control-")]
        assert sorted(got) == sorted(expected), (method, headers)
        assert ("Origin" in answer.vary) == (setting == "listed")
        checked += 1
    assert checked > 500


def test_the_app_runs_the_memo_instead_of_flask_cors_hook():
    from simple_flask import create_app
    from simple_flask.rest.finishing import FinishingResponse

    app = create_app({"SETTINGS": Settings()})
    # The response class adds the memo's headers; Flask runs no after_request function.
    assert app.after_request_funcs.get(None, []) == []
    assert issubclass(app.response_class, FinishingResponse)
    assert isinstance(app.response_class.cors, CorsMemo)


def test_the_function_flask_cors_registers_is_told_apart_by_what_it_added():
    from flask_cors import CORS

    app = Flask("cors_memo")
    app.add_url_rule("/", "index", lambda: "ok")
    # The host's own function, registered before, is not taken.
    app.after_request(own := lambda response: response)
    hook = registered_by(app, lambda: CORS(app))
    assert hook is not None and hook is not own
    assert app.after_request_funcs[None] == [own]
    # Taken out, flask-cors no longer decorates the app's answers...
    answer = app.test_client().get("/", headers={"Origin": "https://a.example"})
    assert answer.text == "ok"
    assert not [name for name in answer.headers.keys() if name.startswith("Access-Control-")]
    # ...and a memo built on the hook sets what flask-cors's defaults set: the
    # Origin echoed back.
    with app.test_request_context("/", headers={"Origin": "https://a.example"}):
        decorated = CorsMemo(hook)(Response())
    assert decorated.headers["Access-Control-Allow-Origin"] == "https://a.example"


@pytest.mark.parametrize("added", [0, 2])
def test_none_or_several_functions_are_left_in_place(added):
    app = Flask("cors_memo")
    functions = [lambda response: response for _ in range(added)]
    assert registered_by(app, lambda: [app.after_request(f) for f in functions]) is None
    assert app.after_request_funcs.get(None, []) == functions


def test_the_memo_is_proven_on_flask_cors(fresh_proofs):
    for setting in SETTINGS.values():
        app = Flask("cors_memo")
        memo = configure_cors(app, setting)
        assert prove(app, memo.compute) is None and memo.keep


def test_headers_that_follow_the_path_are_never_kept(caplog, monkeypatch, fresh_proofs):
    """A flask-cors that answered by path too would be wrong to memoize: it is run every time."""
    from simple_flask import create_app

    def by_path(response):
        response.headers["Access-Control-Allow-Origin"] = request.path
        return response

    app = Flask("cors_memo")
    assert "differently by path" in prove(app, by_path)
    memo = CorsMemo(by_path, keep=False)
    with app.test_request_context("/a", headers={"Origin": "https://a.example"}):
        assert (
            dict(memo.headers_for(("GET", "https://a.example", None, None, None)))[
                "Access-Control-Allow-Origin"
            ]
            == "/a"
        )
    assert memo.memo == {}
    # Through the app: a flask-cors whose headers differ by path switches the memo off.
    monkeypatch.setattr(cors, "prove", lambda app, compute: "as a test")
    with caplog.at_level("WARNING", logger="simple_flask"):
        app = create_app({"TESTING": True, "SETTINGS": Settings()})
    assert app.response_class.cors.keep is False
    assert "shortcut 'CORS headers kept per request shape' is off: as a test" in caplog.text
    answer = app.test_client().get("/Ann/", headers={"Origin": "https://a.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
