"""ServiceFlask: hooks run as Flask runs them; only lookups that find nothing are skipped."""

import pytest
from flask import after_this_request, session
from flask.signals import request_tearing_down

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.rest.service_flask import ServiceFlask, flask_as_expected


def test_the_shortcuts_are_written_against_this_flask():
    # Fails when a Flask release changes a method a shortcut stands in for:
    # check the shortcut against the new method, then update _EXPECTED.
    assert flask_as_expected()
    assert ServiceFlask.shortcuts


@pytest.fixture(params=[True, False], ids=["shortcuts", "flask"])
def app(request, monkeypatch):
    monkeypatch.setattr(ServiceFlask, "shortcuts", request.param)
    app = create_app({"TESTING": True, "SETTINGS": Settings()})
    assert isinstance(app, ServiceFlask)
    return app


def test_every_kind_of_hook_runs(app):
    calls = []
    app.url_value_preprocessor(lambda endpoint, values: calls.append("url"))
    app.before_request(lambda: calls.append("before") and None)

    @app.after_request
    def after(response):
        calls.append("after")
        return response

    app.teardown_request(lambda exc: calls.append(("teardown", exc)))

    @app.get("/hooked")
    def hooked():
        @after_this_request
        def once(response):
            calls.append("this")
            return response

        return "ok"

    assert app.test_client().get("/hooked").status_code == 200
    assert calls == ["url", "before", "this", "after", ("teardown", None)]


def test_a_blueprint_after_request_hook_runs(app):
    response = app.test_client().get("/status/200")
    # The status blueprint's after_request function sets it.
    assert response.headers["Cache-Control"] == "no-store"


def test_the_teardown_signal_is_sent_with_the_error(app):
    seen = []

    def on_teardown(sender, exc=None, **extra):
        seen.append(exc)

    error = RuntimeError("boom")
    with request_tearing_down.connected_to(on_teardown, app):
        assert app.test_client().get("/Ann/").status_code == 200
        with app.test_request_context("/"):
            app.do_teardown_request(error)
            app.do_teardown_request(exc=None)
    assert seen[:3] == [None, error, None]


def test_a_session_is_saved(app):
    app.secret_key = "test"

    @app.get("/count")
    def count():
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert client.get("/count").get_data() == b"1"
    assert client.get("/count").get_data() == b"2"
