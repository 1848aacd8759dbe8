"""ReadyResponse: the same response Werkzeug builds, and a loud failure if Werkzeug changes."""

import json

import pytest
from flask import Flask, Response

from simple_flask_blueprint.rest import ready
from simple_flask_blueprint.rest.ready import ReadyResponse
from simple_flask_blueprint.rest.responses import negotiated, problem


@pytest.mark.parametrize("accept", [None, "application/json"])
@pytest.mark.parametrize("status", [200, 201, 299, 418])
def test_negotiated_equals_werkzeugs_own_response(accept, status):
    app = Flask("ready")
    headers = {"Accept": accept} if accept else {}
    with app.test_request_context("/", headers=headers):
        made = negotiated("Hallo Zoë!", {"message": "Hallo Zoë!"}, status)
    if accept:
        expected = Response(json.dumps({"message": "Hallo Zoë!"}), mimetype="application/json")
    else:
        expected = Response("Hallo Zoë!", mimetype="text/plain")
    expected.status = made.status
    expected.headers["Vary"] = "Accept"
    expected.headers["X-Content-Type-Options"] = "nosniff"
    assert isinstance(made, ReadyResponse)
    assert made.status_code == status
    assert list(made.headers) == list(expected.headers)
    assert made.get_data() == expected.get_data()
    assert vars(made).keys() == vars(expected).keys()


def test_a_ready_response_changes_as_any_other():
    app = Flask("ready")
    with app.test_request_context("/"):
        response = problem(404, "not here")
    response.set_data(b"{}")
    response.headers["X-Extra"] = "1"
    assert response.headers["Content-Length"] == "2"
    with pytest.raises(ValueError):
        response.headers["X-Bad"] = "a\nb"


def test_werkzeug_keeps_headers_where_ready_puts_them():
    # Fails when a Werkzeug release moves Headers' pairs: ready() then
    # validates them (correct, slower) until it is looked at again.
    assert ready.LIST_HEADERS


def test_without_list_headers_the_pairs_are_validated(monkeypatch):
    monkeypatch.setattr(ready, "LIST_HEADERS", False)
    pairs = [("Content-Type", "text/plain"), ("Content-Length", "1"), ("X-A", "b")]
    made = ReadyResponse.ready(b"x", 200, "200 OK", list(pairs))
    assert list(made.headers) == pairs
    with pytest.raises(ValueError):
        ReadyResponse.ready(b"x", 200, "200 OK", [("X-Bad", "a\nb")])
