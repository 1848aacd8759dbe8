"""Failure sequences through Flask's test client: ?sequence=, the report, DELETE, /readyz."""

import time

import pytest

from simple_flask import create_app
from simple_flask.core.settings import Settings
from tests.support import free_port

PROBLEM = "application/problem+json"


def problem_detail(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json(force=True)
    assert body["status"] == status
    return body["detail"]


def walk(client, path: str, times: int) -> list[tuple[int, str]]:
    answers = []
    for _ in range(times):
        response = client.get(path)
        answers.append((response.status_code, response.headers.get("X-Sequence-Attempt")))
    return answers


def test_the_nth_request_gets_the_nth_entry_then_the_last_repeats(client):
    assert walk(client, "/status/503,503,200?sequence=k", 5) == [
        (503, "1"),
        (503, "2"),
        (200, "3"),
        (200, "4"),
        (200, "5"),
    ]


def test_each_key_counts_on_its_own(client):
    assert walk(client, "/status/503,200?sequence=a", 1) == [(503, "1")]
    assert walk(client, "/status/503,200?sequence=b", 2) == [(503, "1"), (200, "2")]
    assert walk(client, "/status/503,200?sequence=a", 1) == [(200, "2")]


def test_every_method_walks_the_sequence(client):
    statuses = [
        client.open("/status/500,502,200?sequence=m", method=method).status_code
        for method in ("POST", "PUT", "DELETE", "GET")
    ]
    assert statuses == [500, 502, 200, 200]


def test_other_parameters_apply_to_each_answer(client):
    started = time.monotonic()
    first = client.get("/status/307,200?sequence=p&location=/Kalimaha/&sleep=50")
    assert time.monotonic() - started >= 0.05
    assert (first.status_code, first.headers["Location"]) == (307, "/Kalimaha/")
    assert first.headers["X-Sequence-Attempt"] == "1"
    second = client.get("/status/307,200?sequence=p&location=/Kalimaha/")
    assert second.status_code == 200
    assert "Location" not in second.headers
    assert client.get("/status/503?sequence=r").headers["Retry-After"] == "1"


def test_a_key_bound_to_another_list_is_a_409_naming_both_lists(client):
    client.get("/status/503,200?sequence=bound")
    detail = problem_detail(client.get("/status/500?sequence=bound"), 409)
    assert "'bound'" in detail and "503,200" in detail and "500" in detail
    # The conflict took no attempt.
    assert walk(client, "/status/503,200?sequence=bound", 1) == [(200, "2")]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("sequence=a/b", "1 to 64 characters of A-Z a-z 0-9 . _ ~ -"),
        ("sequence=", "1 to 64 characters"),
        ("sequence=" + "x" * 65, "1 to 64 characters"),
        ("sequence=%C3%A4", "1 to 64 characters"),
        ("sequence=..", "not . or .."),
        ("sequence=k&sequence=k", "only once"),
        ("sequence=k&seed=x", "seed must be"),
    ],
)
def test_bad_sequence_requests_are_refused(client, query, detail):
    assert detail in problem_detail(client.get(f"/status/503,200?{query}"), 400)


def test_weights_are_refused_in_a_sequence(client):
    detail = problem_detail(client.get("/status/503:0.5,200?sequence=w"), 400)
    assert "take no weights" in detail


def test_a_bad_sleep_takes_no_attempt(client):
    problem_detail(client.get("/status/503,200?sequence=s&sleep=-1"), 400)
    assert walk(client, "/status/503,200?sequence=s", 1) == [(503, "1")]


def test_the_report_lists_the_entries_and_each_attempt(client):
    walk(client, "/status/503,503,200?sequence=rep", 4)
    response = client.get("/status/sequences/rep")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["key"] == "rep"
    assert body["entries"] == ["503", "503", "200"]
    assert body["attempts_total"] == 4
    assert [(a["attempt"], a["served"]) for a in body["attempts"]] == [
        (1, "503"),
        (2, "503"),
        (3, "200"),
        (4, "200"),
    ]
    assert body["attempts"][0]["since_previous_ms"] is None
    assert all(a["since_previous_ms"] >= 0 for a in body["attempts"][1:])
    assert all(a["at"].endswith("Z") for a in body["attempts"])
    head = client.head("/status/sequences/rep")
    assert (head.status_code, head.data) == (200, b"")


def test_the_report_keeps_the_last_100_attempts(client):
    walk(client, "/status/200?sequence=long", 130)
    attempts = client.get("/status/sequences/long").get_json()["attempts"]
    assert [a["attempt"] for a in attempts] == list(range(31, 131))


def test_an_unknown_key_is_a_404_problem(client):
    assert "'nobody'" in problem_detail(client.get("/status/sequences/nobody"), 404)


def test_a_bad_key_in_the_path_is_a_400(client):
    detail = problem_detail(client.get("/status/sequences/" + "x" * 65), 400)
    assert "1 to 64 characters" in detail


def test_delete_forgets_the_sequence_and_it_starts_again(client):
    walk(client, "/status/503,200?sequence=d", 2)
    response = client.delete("/status/sequences/d")
    assert (response.status_code, response.data) == (204, b"")
    assert "Content-Type" not in response.headers
    problem_detail(client.get("/status/sequences/d"), 404)
    assert walk(client, "/status/503,200?sequence=d", 1) == [(503, "1")]
    # Forgotten, so the key may take another list; DELETE of an unknown key is 204 too.
    assert client.delete("/status/sequences/never").status_code == 204


def test_other_methods_on_the_report_are_405_with_allow(client):
    response = client.put("/status/sequences/k")
    problem_detail(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, DELETE, OPTIONS"
    options = client.options("/status/sequences/k")
    assert (options.status_code, options.headers["Allow"]) == (204, "GET, HEAD, DELETE, OPTIONS")


def test_the_sequences_route_wins_over_the_status_route(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/status/sequences/k", method="GET")[0] == "status.sequence"
    assert adapter.match("/status/sequences/k", method="DELETE")[0] == "status.forget_sequence"
    assert adapter.match("/status/418/sequences", method="GET")[0] == "status.respond"


def test_browsers_may_read_the_attempt_header(client):
    response = client.get("/status/503?sequence=cors", headers={"Origin": "https://page.example"})
    exposed = [
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    ]
    assert "X-Sequence-Attempt" in exposed


def test_sequence_answers_are_never_replayed_from_the_memo(client):
    assert walk(client, "/status/200?sequence=memo", 3) == [(200, "1"), (200, "2"), (200, "3")]


def test_readyz_answers_200_with_the_memory_store(client):
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unreachable_store_answers_503_and_nothing_else_suffers():
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    client = create_app({"TESTING": True, "SETTINGS": Settings(state_url=url)}).test_client()
    started = time.monotonic()
    response = client.get("/status/503,200?sequence=k")
    assert time.monotonic() - started < 1
    detail = problem_detail(response, 503)
    assert "sequence store is unavailable" in detail
    assert "hunter2secret" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "1"
    assert "X-Sequence-Attempt" not in response.headers
    problem_detail(client.get("/readyz"), 503)
    problem_detail(client.get("/status/sequences/k"), 503)
    assert client.get("/healthz").status_code == 200
    assert client.get("/status/418").status_code == 418
    assert client.get("/").status_code == 200


def test_the_store_is_shared_by_the_status_routes_and_readyz(app):
    store = app.extensions["simple_flask.sequences"]
    app.test_client().get("/status/200?sequence=shared")
    assert store.record("shared").count == 1


def test_the_report_of_a_list_beyond_the_default_limits_is_read_back():
    # An app whose settings allow more than the defaults: its report must not
    # refuse what its own status route accepted.
    largest = 10 * 1024 * 1024 + 10
    app = create_app({"TESTING": True, "SETTINGS": Settings(max_answer_size=largest)})
    client = app.test_client()
    path = f"/status/200;size={largest},204?sequence=big"
    assert client.head(path).headers["Content-Length"] == str(largest)
    report = client.get("/status/sequences/big")
    assert report.status_code == 200
    assert report.get_json()["entries"] == [f"200;size={largest}", "204"]
    assert report.get_json()["attempts"][0]["served"] == f"200;size={largest}"
