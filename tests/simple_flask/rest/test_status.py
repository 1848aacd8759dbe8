"""The status-code service through Flask's test client: /status/<codes> and the catalogue."""

import json
import math
import re
import threading
import time
from http import HTTPStatus
from urllib.parse import quote, unquote, urlencode

import pytest
from flask import Flask, url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.core.status_headers import EXPOSED_HEADERS
from simple_flask.rest.status import make_status_blueprint
from tests.simple_flask.core.test_sleep_slots import GatedSleep

REGISTERED = {status.value: status.phrase for status in HTTPStatus if 200 <= status.value <= 599}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NO_BODY = {204, 205, 304}
PER_CODE_HEADERS = {"Location", "WWW-Authenticate", "Allow", "Retry-After", "Content-Range"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def stable_headers(response) -> dict[str, str]:
    """The response's headers but those that differ on every response (request ids, dates)."""
    return {
        key: value
        for key, value in response.headers.items()
        if key.lower() not in ("x-request-id", "date")
    }


def expected_phrase(code: int) -> str:
    return REGISTERED.get(code, "Unknown Status Code")


def assert_refused(response, detail: str) -> None:
    """Assert `response` is the service's 400 problem and its detail holds `detail`."""
    assert response.status == "400 Bad Request", response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json(force=True)
    assert body["status"] == 400
    assert body["title"] == "Bad Request"
    assert detail in body["detail"], body["detail"]


def host_app(**options) -> Flask:
    """A bare Flask app, with no error handlers of its own, mounting the Blueprint at /codes."""
    app = Flask("host")
    app.register_blueprint(make_status_blueprint(**options), url_prefix="/codes")
    return app


def fill_sleep_slots(
    app: Flask, prefix: str, count: int, gated: GatedSleep
) -> list[threading.Thread]:
    """Start `count` requests that ask to sleep, and return once each one sleeps in a slot."""
    threads = [
        threading.Thread(target=app.test_client().get, args=(f"{prefix}/200?sleep=5000",))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert gated.entered.acquire(timeout=10), "a sleeper never reached its slot"
    return threads


def wake(gated: GatedSleep, threads: list[threading.Thread]) -> None:
    """Let every sleeper finish."""
    gated.gate.set()
    for thread in threads:
        thread.join(10)


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_lists_every_registered_code_from_200_to_599(client):
    response = client.get("/status/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == [
        {"code": code, "description": phrase} for code, phrase in sorted(REGISTERED.items())
    ]


def test_catalogue_answers_head_with_the_same_headers(client):
    get, head = client.get("/status/"), client.head("/status/")
    assert head.status_code == 200
    assert head.data == b""
    assert stable_headers(head) == stable_headers(get)


def test_endpoints_build_urls_under_the_mount_point(app):
    with app.test_request_context():
        assert url_for("status.catalogue") == "/status/"
        assert url_for("status.respond", codes="418") == "/status/418"
        assert url_for("status.respond", codes="503", rest="a/b") == "/status/503/a/b"


# --- every code ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", range(200, 600))
def test_every_code_answers_with_itself(client, code):
    response = client.get(f"/status/{code}")
    status_line = f"{code} {expected_phrase(code)}"
    assert response.status == status_line
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if code in NO_BODY:
        assert response.data == b""
        assert "Content-Type" not in response.headers
    else:
        assert response.get_data(as_text=True) == status_line
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "Accept" in response.vary
    # Only the codes that need one get a per-code header.
    sent = PER_CODE_HEADERS & set(response.headers.keys())
    if 300 <= code < 400 and code != 304:
        assert sent == {"Location"}
        assert response.headers["Location"] == "/status/200"
    elif code == 401:
        assert sent == {"WWW-Authenticate"}
        assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    elif code == 405:
        assert sent == {"Allow"}
        assert response.headers["Allow"] == "POST, PUT, PATCH, DELETE, OPTIONS"
    elif code in (429, 503):
        assert sent == {"Retry-After"}
        assert response.headers["Retry-After"].isdigit()
    elif code == 416:
        assert sent == {"Content-Range"}
        assert response.headers["Content-Range"] == "bytes */0"
    elif code == 206:
        assert sent == {"Content-Range"}
        length = len(response.data)
        assert response.headers["Content-Range"] == f"bytes 0-{length - 1}/{length}"
    else:
        assert sent == set()


@pytest.mark.parametrize("code", range(200, 600))
def test_every_code_answers_json_when_preferred(client, code):
    response = client.get(f"/status/{code}", headers={"Accept": "application/json"})
    assert response.status_code == code
    if code in NO_BODY:
        assert response.data == b""
        assert "Content-Type" not in response.headers
    else:
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.data) == {"code": code, "description": expected_phrase(code)}


@pytest.mark.parametrize("code", range(200, 600))
def test_head_gets_the_headers_of_get_and_no_body(client, code):
    get, head = client.get(f"/status/{code}"), client.head(f"/status/{code}")
    assert head.status == get.status
    assert head.data == b""
    assert stable_headers(head) == stable_headers(get)


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "text/plain"),
        ("*/*", "text/plain"),
        (BROWSER_ACCEPT, "text/plain"),
        ("application/json", "application/json"),
        ("application/json;q=0.5, text/plain;q=0.9", "text/plain"),
        ("text/plain;q=0.1, application/json", "application/json"),
        ("application/*", "application/json"),
        ("image/png", "text/plain"),
    ],
)
def test_accept_q_values_pick_text_or_json(client, accept, mimetype):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/status/404", headers=headers)
    assert response.status_code == 404
    assert response.mimetype == mimetype


def test_an_unknown_code_is_answered_with_unknown_status_code(client):
    response = client.get("/status/299", headers={"Accept": "application/json"})
    assert response.status == "299 Unknown Status Code"
    assert response.get_json() == {"code": 299, "description": "Unknown Status Code"}


# --- methods, preflights, paths --------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gets_the_code(client, method):
    response = client.open("/status/418", method=method, data=b"ignored body")
    assert response.status == "418 I'm a Teapot"
    assert response.data == (b"" if method == "HEAD" else b"418 I'm a Teapot")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_other_methods_get_405(client, method):
    response = client.open("/status/200", method=method)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_plain_options_echoes_the_code(client):
    response = client.options("/status/503", headers={"Origin": "https://page.example"})
    assert response.status == "503 Service Unavailable"
    assert response.headers["Retry-After"] == "1"
    assert response.data == b"503 Service Unavailable"


@pytest.mark.parametrize("path", ["/status/503", "/status/abc?sleep=zzz", "/status/302/x/y"])
def test_a_preflight_is_answered_as_a_preflight(client, path):
    # Even for a code the service refuses: a failed preflight would hide the
    # real answer (a 400 problem) from the page's script.
    response = client.options(
        path,
        headers={
            "Origin": "https://page.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-test",
        },
    )
    assert response.status == "204 No Content"
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert "Location" not in response.headers
    assert "Retry-After" not in response.headers


def test_a_preflight_through_the_root_app_gets_the_cors_headers(client):
    response = client.options(
        "/status/201",
        headers={"Origin": "https://page.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://page.example")
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("code", [302, 401, 405, 416, 503])
def test_browsers_may_read_every_header_the_service_sets(client, code):
    response = client.get(f"/status/{code}", headers={"Origin": "https://page.example"})
    exposed = {
        name.strip().lower()
        for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {name.lower() for name in EXPOSED_HEADERS} <= exposed
    assert PER_CODE_HEADERS & set(response.headers.keys())


@pytest.mark.parametrize("rest", ["", "x", "a/b/c", "users/42/orders?x=1", "%C3%A9/..%2F"])
def test_a_trailing_path_is_ignored(client, rest):
    response = client.get(f"/status/201/{rest}")
    assert response.status == "201 Created"


def test_a_redirect_leads_to_a_200(client):
    response = client.get("/status/301", follow_redirects=True)
    assert response.status == "200 OK"
    assert [r.status_code for r in response.history] == [301]


@pytest.mark.parametrize("code", [300, 301, 302, 303, 305, 307, 308, 399])
def test_location_may_be_set_to_a_path_on_this_host(client, code):
    response = client.get(f"/status/{code}?location=/orders/42%3Fx%3D1")
    assert response.status_code == code
    assert response.headers["Location"] == "/orders/42?x=1"


# What a Location is sent as, written out: characters outside RFC 3986's path,
# query and fragment sets are percent-encoded as UTF-8; a "%" is left alone.
LOCATION_ENCODINGS = [
    ("/a b/é", "/a%20b/%C3%A9"),
    ("/a?b=[1]&c=d#e", "/a?b=%5B1%5D&c=d#e"),
    ("/%zz", "/%zz"),
    ("/'\"<>{}|^`", "/'%22%3C%3E%7B%7D%7C%5E%60"),
    ("/a%2Fb", "/a%2Fb"),
    ("/\u0085", "/%C2%85"),
    ("/~user/x;y=1,2@h:8$!*+()", "/~user/x;y=1,2@h:8$!*+()"),
]
# Every character a Location may be sent with: RFC 3986 pchar, "/", "?", "#" and "%".
LOCATION_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*")


@pytest.mark.parametrize(("location", "sent"), LOCATION_ENCODINGS)
def test_location_is_sent_percent_encoded_as_written_out(client, location, sent):
    response = client.get("/status/302?location=" + quote(location, safe=""))
    assert response.headers["Location"] == sent
    assert LOCATION_CHARACTERS.fullmatch(sent)
    # Decoding gives back what was asked for: nothing was lost or added. A "%"
    # already in the location is sent as it is, so both sides are decoded.
    assert unquote(response.headers["Location"]) == unquote(location)


def test_location_is_checked_but_not_sent_with_other_codes(client):
    assert "Location" not in client.get("/status/200?location=/x").headers
    assert "Location" not in client.get("/status/304?location=/x").headers
    assert_refused(client.get("/status/200?location=//evil.com"), "location must be a path")


def test_the_default_location_follows_the_mount_point():
    app = Flask("host")
    app.register_blueprint(make_status_blueprint(name="a"), url_prefix="/one")
    app.register_blueprint(make_status_blueprint(name="b"), url_prefix="/deep/two")
    client = app.test_client()
    assert client.get("/one/302").headers["Location"] == "/one/200"
    assert client.get("/deep/two/307/x").headers["Location"] == "/deep/two/200"
    assert client.get("/deep/two/307", follow_redirects=True).status_code == 200


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/status/100", "1xx codes cannot be sent"),
        ("/status/101", "interim"),
        ("/status/199", "WSGI"),
        ("/status/" + quote("\u0662\u0660\u0660"), "three ASCII digits"),
        ("/status/2_00", "three ASCII digits"),
        ("/status/%20200", "three ASCII digits"),
        ("/status/200%20", "three ASCII digits"),
        ("/status/0", "three ASCII digits"),
        ("/status/-1", "three ASCII digits"),
        ("/status/1000", "three ASCII digits"),
        ("/status/600", "from 200 to 599"),
        ("/status/000", "from 200 to 599"),
        ("/status/abc", "three ASCII digits"),
        ("/status/200,", "entry 2 of the list of status codes is empty"),
        ("/status/,", "empty"),
        ("/status/200,600", "entry 2 ('600') of the list: a status code must be from 200 to 599"),
        ("/status/200,102", "entry 2 ('102') of the list: 1xx codes"),
        ("/status/200:nan,500", "weight of 200 must be a finite decimal"),
        ("/status/200:inf,500", "finite decimal"),
        ("/status/200:1e309,500", "finite decimal"),
        ("/status/200:-0,500", "finite decimal"),
        ("/status/200:,500", "finite decimal"),
        ("/status/200:0,500:0", "add up to more than 0"),
        ("/status/" + ",".join(["200"] * 51), "at most 50 status codes may be listed, got 51"),
        ("/status/" + ",".join(["200"] * 10_000), "at most 50"),
        ("/status/302?location=//evil.com", "must start with / and not with //"),
        ("/status/302?location=/%5Cevil.com", "backslash"),
        ("/status/302?location=http://evil.com/", "must start with /"),
        ("/status/302?location=", "must start with /"),
        ("/status/302?location=/a%0D%0ASet-Cookie:%20x=1", "control characters"),
        ("/status/302?location=/%09/evil.com", "control characters"),
        ("/status/200?sleep=-1", "sleep must be a whole number of milliseconds"),
        ("/status/200?sleep=10001", "from 0 to 10000"),
        ("/status/200?sleep=1.5", "from 0 to 10000"),
        ("/status/200?sleep=1e3", "from 0 to 10000"),
        ("/status/200?sleep=abc", "from 0 to 10000"),
        ("/status/200?sleep=", "from 0 to 10000"),
        ("/status/200?sleep", "from 0 to 10000"),
        ("/status/200?sleep=" + "9" * 5000, "from 0 to 10000"),
        ("/status/200?sleep=%EF%BC%91", "from 0 to 10000"),
        ("/status/200?seed=x", "seed must be an integer"),
        ("/status/200?seed=" + "1" * 21, "at most 20 digits"),
        ("/status/200?sleep=1&sleep=2", "sleep may be given only once"),
        ("/status/200?seed=1&seed=1", "seed may be given only once"),
    ],
)
def test_bad_input_is_refused_with_the_rule(client, path, detail):
    assert_refused(client.get(path), detail)


def test_refusals_echo_no_huge_input(client):
    response = client.get("/status/" + "x" * 5000)
    assert_refused(response, "three ASCII digits")
    assert len(response.data) < 400


@pytest.mark.parametrize(
    "query",
    [
        "?",
        "?&",
        "?&&&=&",
        "?=",
        "?%",
        "?%zz=1",
        "?sleep=%FF",
        "?seed=%00",
        "?location=%C0%AF",
        "?location=/%FF",
        "?x=" + "y" * 20_000,
        "?" + "&".join(f"p{n}={n}" for n in range(2000)),
        "?a[]=1&a[]=2",
        "?SLEEP=99999999",
    ],
)
def test_odd_query_strings_never_make_a_500(client, query):
    response = client.get("/status/200" + query)
    assert response.status_code in (200, 400), response.data
    assert response.headers["Cache-Control"] == "no-store"


# The grammar of docs/status-service.md, written out again here so that the
# service is checked against the documentation, not against its own parser.
DOCUMENTED_CODE = re.compile(r"[0-9]{3}")
DOCUMENTED_WEIGHT = re.compile(r"[0-9]*\.?[0-9]*")
FAULT_WORDS = ("reset", "close")
# What the test client gets for a fault: a server that cannot drop connections answers 501.
FAULT_STAND_IN = 501


def documented_answers(text: str) -> set[int] | None:
    """The codes the documented grammar lets /status/`text` answer; None for a 400.

    An entry is a code (three ASCII digits, 200 to 599) or a fault word, with
    an optional `:weight` (digits and at most one point, finite, >= 0); a
    list holds 1 to 50 entries whose weights add up to more than 0.
    """
    entries = text.split(",")
    if not 1 <= len(entries) <= 50:
        return None
    weighed = []
    for entry in entries:
        name, colon, weight_text = entry.partition(":")
        if name in FAULT_WORDS:
            answer = FAULT_STAND_IN
        elif DOCUMENTED_CODE.fullmatch(name) and 200 <= int(name) <= 599:
            answer = int(name)
        else:
            return None
        weight = 1.0
        if colon:
            has_digit = any(char in "0123456789" for char in weight_text)
            if not (DOCUMENTED_WEIGHT.fullmatch(weight_text) and has_digit):
                return None
            weight = float(weight_text)
            if not math.isfinite(weight):
                return None
        weighed.append((answer, weight))
    total = sum(weight for _, weight in weighed)
    if not (total > 0 and math.isfinite(total)):
        return None
    return {answer for answer, weight in weighed if weight > 0}


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("200", {200}),
        ("599", {599}),
        ("200:0.9,500:.1", {200, 500}),
        ("200:0,418", {418}),
        ("200,reset:1.", {200, FAULT_STAND_IN}),
        (",".join(["204"] * 50), {204}),
        ("199", None),
        ("600", None),
        ("2000", None),
        ("RESET", None),
        ("200:", None),
        ("200:.", None),
        ("200:1e3", None),
        ("200:-1", None),
        ("200:1:2", None),
        ("200:" + "9" * 400, None),
        ("200:0,500:0.0", None),
        ("200,", None),
        (",".join(["204"] * 51), None),
    ],
)
def test_the_documented_grammar_as_written_in_this_test(text, answers):
    """The oracle above, checked against examples read off the documentation."""
    assert documented_answers(text) == answers


_PATH_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1)
_ENTRY_NAMES = st.one_of(
    st.sampled_from(["200", "299", "418", "503", "599", "100", "199", "600", "000", "٢٠٠"]),
    st.sampled_from(["reset", "close", "Reset", "2_0", "", " 200", "abc"]),
    st.from_regex(r"\A[0-9]{1,4}\Z"),
)
_WEIGHTS = st.one_of(
    st.none(),
    st.from_regex(r"\A[0-9]{0,3}\.?[0-9]{0,3}\Z"),
    st.sampled_from(["-1", "+1", "1e3", "nan", "inf", " 1", "1:2", "9" * 400, "1" + "0" * 308]),
)
# Lists shaped like the grammar, near its edges: bad entries, odd weights, up to 55 entries.
_LISTS = st.lists(
    st.tuples(_ENTRY_NAMES, _WEIGHTS).map(
        lambda entry: entry[0] if entry[1] is None else f"{entry[0]}:{entry[1]}"
    ),
    min_size=1,
    max_size=55,
).map(",".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    codes=st.one_of(
        _PATH_TEXT,
        st.from_regex(r"\A[0-9]{3}(:[0-9.]{1,4})?(,[0-9]{3}){0,3}\Z"),
        # An empty list is /status/, the catalogue.
        _LISTS.filter(bool),
    )
)
def test_no_path_makes_a_500_or_anything_the_grammar_does_not_allow(client, codes):
    response = client.get("/status/" + quote(codes, safe=""))
    answers = documented_answers(codes)
    if answers is None:
        assert_refused(response, "")
    else:
        assert response.status_code in answers, (codes, response.get_data(as_text=True))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    args=st.dictionaries(
        st.sampled_from(["sleep", "seed", "location", "other"]),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    )
)
def test_no_query_makes_a_500(client, args):
    # A valid sleep would only slow the test down; it is tested on its own.
    if re.fullmatch("[0-9]+", args.get("sleep", "")):
        args["sleep"] = "0"
    response = client.get("/status/302?" + urlencode(args))
    assert response.status_code in (302, 400), response.data


# --- the choice ------------------------------------------------------------------------------


def seeded_answers(client, codes: str, seeds) -> list[int]:
    return [client.get(f"/status/{codes}?seed={seed}").status_code for seed in seeds]


def test_a_seed_makes_the_choice_reproducible():
    codes = "200:0.9,500:0.1"
    seeds = range(200)
    # Two apps created apart share no state: the seed alone decides.
    first = create_app({"TESTING": True, "SETTINGS": Settings()}).test_client()
    second = create_app({"TESTING": True, "SETTINGS": Settings()}).test_client()
    answers = seeded_answers(first, codes, seeds)
    assert seeded_answers(second, codes, seeds) == answers
    assert seeded_answers(first, codes, seeds) == answers
    assert set(answers) == {200, 500}
    # 0.1 of 200 picks is 20 on average; outside 5 to 40 has odds below 1 in 60,000
    # for a fair pick, and the seeds make the outcome the same on every run.
    assert 5 <= answers.count(500) <= 40, answers.count(500)


def test_the_readme_seed_example_answers_500(client):
    # README.md: curl 'http://127.0.0.1:8080/status/200:0.9,500:0.1?seed=2' prints a 500.
    for _ in range(3):
        assert client.get("/status/200:0.9,500:0.1?seed=2").status == "500 Internal Server Error"


def test_without_a_seed_the_choice_varies(client):
    # Each code has probability 2**-200 of never showing up: this cannot fail by chance.
    assert {client.get("/status/200,500").status_code for _ in range(200)} == {200, 500}


def test_weight_0_is_never_chosen(client):
    assert {client.get("/status/200:0,418").status_code for _ in range(100)} == {418}


# --- sleep -----------------------------------------------------------------------------------


def test_sleep_delays_the_answer(client):
    started = time.monotonic()
    response = client.get("/status/201?sleep=300")
    assert time.monotonic() - started >= 0.3
    assert response.status == "201 Created"


def test_the_sleep_cap_comes_from_the_settings():
    client = create_app({"SETTINGS": Settings(max_sleep_ms=50)}).test_client()
    assert client.get("/status/200?sleep=50").status_code == 200
    assert_refused(client.get("/status/200?sleep=51"), "from 0 to 50")


def test_a_sleep_beyond_the_free_slots_gets_a_503_without_sleeping(gated_sleep):
    app = host_app(sleep_slots=2)
    threads = fill_sleep_slots(app, "/codes", 2, gated_sleep)
    try:
        response = app.test_client().get("/codes/200?sleep=1000")
        assert response.status == "503 Service Unavailable"
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["Cache-Control"] == "no-store"
        # The sleepers asked for 5 s each: the first slot frees in 5 s.
        assert response.headers["Retry-After"] == "5"
        assert "all 2 sleep slots are taken" in response.get_json()["detail"]
        assert gated_sleep.calls == [5.0, 5.0]  # the refused request never slept
        # Requests that do not sleep are still answered.
        assert app.test_client().get("/codes/200").status_code == 200
        assert app.test_client().get("/codes/200?sleep=0").status_code == 200
    finally:
        wake(gated_sleep, threads)
    assert app.test_client().get("/codes/200?sleep=1").status_code == 200


@pytest.mark.parametrize(("threads", "slots"), [(1, 1), (2, 1), (5, 2), (8, 4)])
def test_create_app_gives_half_the_threads_as_sleep_slots(gated_sleep, threads, slots):
    app = create_app({"SETTINGS": Settings(threads=threads)})
    sleepers = fill_sleep_slots(app, "/status", slots, gated_sleep)
    try:
        assert app.test_client().get("/status/200?sleep=1").status_code == 503
    finally:
        wake(gated_sleep, sleepers)


def test_each_blueprint_has_its_own_slots(gated_sleep):
    app = Flask("host")
    app.register_blueprint(make_status_blueprint(name="a", sleep_slots=1), url_prefix="/a")
    app.register_blueprint(make_status_blueprint(name="b", sleep_slots=1), url_prefix="/b")
    threads = fill_sleep_slots(app, "/a", 1, gated_sleep)
    try:
        assert app.test_client().get("/a/200?sleep=1").status_code == 503
        threads += fill_sleep_slots(app, "/b", 1, gated_sleep)
    finally:
        wake(gated_sleep, threads)


# --- the factory -----------------------------------------------------------------------------


def test_the_factory_returns_a_new_blueprint_each_call():
    first, second = make_status_blueprint(), make_status_blueprint()
    assert first is not second
    assert first.name == second.name == "status"
    assert make_status_blueprint(name="codes").name == "codes"


def test_the_blueprint_works_in_a_bare_host_app():
    client = host_app().test_client()
    assert client.get("/codes/").get_json()[0] == {"code": 200, "description": "OK"}
    assert client.get("/codes/418").status == "418 I'm a Teapot"
    assert_refused(client.get("/codes/100"), "1xx")
    assert client.get("/codes/418").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("options", "message"), [({"max_sleep_ms": -1}, "max_sleep_ms"), ({"sleep_slots": 0}, "slots")]
)
def test_the_factory_refuses_bad_limits(options, message):
    with pytest.raises(ValueError, match=message):
        make_status_blueprint(**options)


def test_a_sequence_refused_for_want_of_a_slot_uses_no_attempt(gated_sleep):
    app = host_app(sleep_slots=1)
    threads = fill_sleep_slots(app, "/codes", 1, gated_sleep)
    client = app.test_client()
    try:
        refused = client.get("/codes/503;sleep=100,200?sequence=slots")
        assert (
            refused.status_code == 503 and "sleep slots are taken" in refused.get_json()["detail"]
        )
        assert "X-Sequence-Attempt" not in refused.headers
        assert client.get("/codes/sequences/slots").status_code == 404
        # An entry without a delay still needs the slot its sequence may need: refused too.
        assert client.get("/codes/200,503;sleep=100?sequence=slots").status_code == 503
        assert client.get("/codes/sequences/slots").status_code == 404
    finally:
        wake(gated_sleep, threads)
    # Once the slot is free the sequence starts at its first entry.
    first = client.get("/codes/503;sleep=100,200?sequence=slots")
    assert (first.status_code, first.headers["X-Sequence-Attempt"]) == (503, "1")
    second = client.get("/codes/503;sleep=100,200?sequence=slots")
    assert (second.status_code, second.headers["X-Sequence-Attempt"]) == (200, "2")
    # The 200 took no slot: the sleepers' slot is free for the next sleeper at once.
    assert client.get("/codes/200?sleep=1").status_code == 200
