"""The blueprint in a bare host app, mounted once, twice, and by default."""

import json

import pytest
from flask import Blueprint, Flask, url_for

from simple_flask_blueprint import bp, make_blueprint


@pytest.fixture
def host():
    """A bare Flask app with no error handlers, holding the blueprint twice."""
    host = Flask(__name__)
    host.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")
    host.register_blueprint(make_blueprint(name="hello"), url_prefix="/hello/there")
    return host


def test_each_call_makes_a_new_blueprint():
    first, second = make_blueprint(), make_blueprint()
    assert isinstance(first, Blueprint)
    assert first is not second
    assert first.name == "simple_flask_blueprint"
    assert make_blueprint(name="other").name == "other"


def test_bp_is_a_ready_default_instance():
    host = Flask(__name__)
    host.register_blueprint(bp, url_prefix="/greet")
    response = host.test_client().get("/greet/Ann/")
    assert response.get_data(as_text=True) == "Hallo Ann!"


@pytest.mark.parametrize(("prefix"), ["/hi", "/hello/there"])
def test_both_mounts_greet(host, prefix):
    client = host.test_client()
    assert client.get(f"{prefix}/").get_data(as_text=True) == "Hallo!"
    response = client.get(f"{prefix}/Kalimaha/", headers={"Accept": "application/json"})
    assert response.get_json() == {"message": "Hallo Kalimaha!"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_url_for_builds_both_rules_of_one_endpoint(host):
    with host.test_request_context():
        assert url_for("hi.greet") == "/hi/"
        assert url_for("hi.greet", name="Ann") == "/hi/Ann/"
        assert url_for("hello.greet", name="Zoë") == "/hello/there/Zo%C3%AB/"
    endpoints = {rule.endpoint for rule in host.url_map.iter_rules()}
    assert {"hi.greet", "hello.greet"} <= endpoints


def test_invalid_names_are_problems_without_host_handlers(host):
    response = host.test_client().get("/hi/" + "x" * 101 + "/")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(response.get_data())
    assert body == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "name must be 1 to 100 characters long, got 101",
    }


def test_the_blueprint_leaves_other_host_routes_alone(host):
    @host.get("/page")
    def page():
        return "<p>host page</p>"

    response = host.test_client().get("/page")
    assert response.mimetype == "text/html"
    assert "X-Content-Type-Options" not in response.headers


def test_a_custom_greeter():
    host = Flask(__name__)
    host.register_blueprint(make_blueprint(greeter=lambda name: f"Hi {name or 'all'}"))
    assert host.test_client().get("/Bo/").get_data(as_text=True) == "Hi Bo"


def test_status_lines_carry_the_registered_phrase(host):
    client = host.test_client()
    assert client.get("/hi/").status == "200 OK"
    assert client.get("/hi/" + "x" * 101 + "/").status == "400 Bad Request"
