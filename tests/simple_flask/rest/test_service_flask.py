"""ServiceFlask: hooks run as Flask runs them; only lookups that find nothing are skipped.

The shortcuts are taken only where prove() finds, on the installed Flask, that
they change nothing a request sees; each way it can fail is made to happen here.
"""

import logging

import pytest
from flask import Flask, after_this_request, session
from flask.signals import request_tearing_down

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.rest import service_flask
from simple_flask.rest.service_flask import ServiceFlask, prove

SHORTCUT = "Flask's search for absent hooks skipped"


def test_the_shortcuts_are_proven_on_this_flask(fresh_proofs):
    app = create_app({"TESTING": True, "SETTINGS": Settings()})
    assert app.shortcuts is True
    assert fresh_proofs.verdicts()[SHORTCUT][1] is None


@pytest.fixture(params=[True, False], ids=["shortcuts", "flask"])
def app(request):
    app = create_app({"TESTING": True, "SETTINGS": Settings()})
    assert isinstance(app, ServiceFlask)
    app.shortcuts = request.param
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


def test_an_after_this_request_function_runs_without_app_hooks(app):
    @app.get("/once")
    def once():
        after_this_request(lambda response: response.headers.set("X-Once", "1") or response)
        return "ok"

    assert app.test_client().get("/once").headers["X-Once"] == "1"


def test_a_blueprint_after_request_hook_runs(app):
    response = app.test_client().get("/status/200")
    # The status blueprint's after_request function sets it.
    assert response.headers["Cache-Control"] == "no-store"


def test_the_teardown_signal_reaches_its_receiver_with_the_error(app):
    seen = []

    def on_teardown(sender, exc=None, **extra):
        seen.append(exc)

    error = RuntimeError("boom")
    with request_tearing_down.connected_to(on_teardown, app):
        assert app.test_client().get("/Ann/").status_code == 200
        # An error no handler caught reaches the teardown as the context is popped.
        context = app.test_request_context("/")
        context.push()
        context.pop(error)
    assert seen == [None, error]


def test_a_session_is_saved(app):
    app.secret_key = "test"

    @app.get("/count")
    def count():
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert client.get("/count").get_data() == b"1"
    assert client.get("/count").get_data() == b"2"


# --- the proof fails where the shortcuts would be wrong ---------------------------------------


def fresh_app():
    return create_app({"TESTING": True, "SETTINGS": Settings()})


def test_a_flask_whose_response_step_does_more_switches_them_off(monkeypatch, caplog, fresh_proofs):
    flask_method = Flask.process_response

    def with_header(self, *args):
        response = flask_method(self, *args)
        response.headers["X-Flask-Did-This"] = "1"
        return response

    monkeypatch.setattr(Flask, "process_response", with_header)
    with caplog.at_level(logging.WARNING, logger="simple_flask"):
        app = fresh_app()
    assert app.shortcuts is False
    # Off, Flask's own method runs and its work reaches the answer.
    assert app.test_client().get("/").headers["X-Flask-Did-This"] == "1"
    (record,) = [r for r in caplog.records if SHORTCUT in r.getMessage()]
    assert record.levelno == logging.WARNING and "differently" in record.getMessage()


def test_a_shortcut_taken_despite_an_after_request_function_is_refused(monkeypatch):
    monkeypatch.setattr(ServiceFlask, "nothing_after", lambda self, context: True)
    assert "differently" in prove()


def test_a_shortcut_that_misses_an_after_this_request_function_is_refused(monkeypatch):
    def blind(self, context):
        # Sees the app's and blueprints' functions, not the request's own.
        functions = self.after_request_funcs
        return not functions.get(None) and not any(
            functions.get(name) for name in context.request.blueprints
        )

    monkeypatch.setattr(ServiceFlask, "nothing_after", blind)
    assert "differently" in prove()


def test_a_shortcut_never_taken_is_refused_as_dead(monkeypatch):
    # Correct, but it would cost its check and save nothing.
    monkeypatch.setattr(ServiceFlask, "nothing_after", lambda self, context: False)
    assert "not taken exactly when there is nothing to call (/)" in prove()


def test_a_context_that_keeps_its_functions_elsewhere_is_refused(monkeypatch):
    monkeypatch.setattr(service_flask, "_context_attributes", lambda app: None)
    assert "were not found" in prove()


def test_a_flask_that_never_calls_a_hook_method_is_refused(monkeypatch):
    # A Flask that no longer calls do_teardown_request would leave that shortcut dead.
    original = service_flask._answer

    def without_teardown(app, path):
        monkeypatch.setattr(app, "do_teardown_request", lambda *args: None, raising=False)
        return original(app, path)

    monkeypatch.setattr(service_flask, "_answer", without_teardown)
    assert "does not call do_teardown_request" in prove()
