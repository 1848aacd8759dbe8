"""The blueprints in real host apps: HTML error pages, nesting, a SCRIPT_NAME mount, CSRF.

Each host is the kind of app a user already has; the blueprints must fit in
without changing how the host answers its own routes and errors. These tests
also run in the Flask/Werkzeug matrix (tests/test_compat.py).
"""

import json
from urllib.parse import urlsplit

import pytest
from flask import Blueprint, Flask, render_template_string, url_for
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from simple_flask import make_status_blueprint
from simple_flask_blueprint import make_blueprint
from tests.support import request, serving_in_thread

PROBLEM = "application/problem+json"
ERROR_PAGE = "<!doctype html><title>{{ code }}</title><h1>{{ code }}: {{ message }}</h1>"
INDEX = '<!doctype html><a href="{{ url_for("hi.greet", name="Ann") }}">Greet Ann</a>'


def flaskr() -> Flask:
    """A host in the style of Flask's tutorial, with its own HTML error pages."""
    app = Flask("flaskr")
    app.config.from_mapping(SECRET_KEY="dev", TESTING=True)

    @app.route("/")
    def index() -> str:
        return render_template_string(INDEX)

    def page(code: int, message: str) -> tuple[str, int]:
        return render_template_string(ERROR_PAGE, code=code, message=message), code

    app.register_error_handler(404, lambda error: page(404, "Page not found"))
    app.register_error_handler(405, lambda error: page(405, "Method not allowed"))
    app.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")
    app.register_blueprint(make_status_blueprint(), url_prefix="/status")
    return app


@pytest.fixture
def host():
    return flaskr().test_client()


def test_the_host_keeps_its_own_pages(host):
    index = host.get("/")
    assert index.status_code == 200
    assert 'href="/hi/Ann/"' in index.get_data(as_text=True)
    for method, path, code in [("GET", "/no/such/page", 404), ("POST", "/hi/Ann/", 405)]:
        response = host.open(path, method=method)
        assert response.status_code == code
        # The host's HTML page, not the blueprints' problem+json.
        assert response.mimetype == "text/html"
        assert f"<h1>{code}: " in response.get_data(as_text=True)


def test_the_blueprints_answer_their_own_errors_as_problems(host):
    greeting = host.get("/hi/" + "x" * 101 + "/")
    status = host.get("/status/abc")
    for response in (greeting, status):
        assert response.status_code == 400
        assert response.mimetype == PROBLEM
        assert json.loads(response.data)["status"] == 400


def test_the_blueprints_answer_inside_the_host(host):
    assert host.get("/hi/Ann/").get_data(as_text=True) == "Hallo Ann!"
    # A 404 asked of the status blueprint is its own plain-text answer, not the host's page.
    asked = host.get("/status/404")
    assert (asked.status_code, asked.mimetype) == (404, "text/plain")
    assert asked.get_data(as_text=True) == "404 Not Found"


def test_through_a_real_server():
    with serving_in_thread(flaskr()) as port:
        response, body = request(port, "GET", "/hi/Ann/")
        assert (response.status, body) == (200, b"Hallo Ann!")
        response, body = request(port, "GET", "/no/such/page")
        assert response.status == 404
        assert response.getheader("Content-Type").startswith("text/html")
        response, body = request(port, "DELETE", "/status/418")
        assert (response.status, body) == (418, b"418 I'm a Teapot")
        response, body = request(port, "GET", "/status/abc")
        assert (response.status, response.getheader("Content-Type")) == (400, PROBLEM)


def nested() -> Flask:
    app = Flask("nested")
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    parent.register_blueprint(make_blueprint(name="child"), url_prefix="/child")
    parent.register_blueprint(make_status_blueprint(name="codes"), url_prefix="/codes")
    app.register_blueprint(parent)
    return app


def test_nested_registration():
    app = nested()
    with app.test_request_context():
        assert url_for("parent.child.greet") == "/parent/child/"
        assert url_for("parent.child.greet", name="Ann") == "/parent/child/Ann/"
        assert url_for("parent.codes.respond", codes="418") == "/parent/codes/418"
    client = app.test_client()
    assert client.get("/parent/child/Ann/").get_data(as_text=True) == "Hallo Ann!"
    # The status blueprint's default redirect target is built inside the nesting.
    redirect = client.get("/parent/codes/302")
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == "/parent/codes/200"
    assert client.get(redirect.headers["Location"]).status_code == 200


def mounted() -> Flask:
    """A host mounted under /mount by werkzeug's DispatcherMiddleware (SCRIPT_NAME=/mount)."""
    app = Flask("mounted")
    app.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")
    app.register_blueprint(make_status_blueprint(), url_prefix="/status")
    front = Flask("front")
    front.wsgi_app = DispatcherMiddleware(front.wsgi_app, {"/mount": app})
    return front


def test_a_mount_under_script_name_keeps_redirects_inside_it():
    client = mounted().test_client()
    assert client.get("/mount/hi/Ann/").get_data(as_text=True) == "Hallo Ann!"
    # Werkzeug's trailing-slash redirect, and the status blueprint's default target.
    for path, code, target in [
        ("/mount/hi/Ann", 308, "/mount/hi/Ann/"),
        ("/mount/status/301", 301, "/mount/status/200"),
    ]:
        response = client.get(path)
        assert response.status_code == code
        assert urlsplit(response.headers["Location"]).path == target
        assert client.get(target).status_code == 200
    # Outside the mount nothing answers.
    assert client.get("/hi/Ann/").status_code == 404


def csrf_host(exempt: bool):
    """A host with Flask-WTF's CSRFProtect over every view, and a form of its own."""
    from flask_wtf.csrf import CSRFProtect

    app = Flask("forms")
    app.config.update(SECRET_KEY="dev", TESTING=True)
    csrf = CSRFProtect(app)
    status = make_status_blueprint()
    app.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")
    app.register_blueprint(status, url_prefix="/status")
    app.add_url_rule("/form", "form", lambda: "saved", methods=["POST"])
    if exempt:
        # As docs/blueprints.md shows: the status blueprint takes no forms.
        csrf.exempt(status)
    return app.test_client()


def test_csrf_protection_lets_the_greetings_through():
    client = csrf_host(exempt=False)
    assert client.get("/hi/Ann/").get_data(as_text=True) == "Hallo Ann!"
    assert client.get("/status/418").status_code == 418
    # Unsafe methods need a token until the blueprint is exempted.
    assert client.post("/status/201").status_code == 400


@pytest.mark.parametrize(
    ("method", "code"), [("POST", 201), ("PUT", 200), ("PATCH", 202), ("DELETE", 204)]
)
def test_the_exempted_status_blueprint_answers_unsafe_methods(method, code):
    client = csrf_host(exempt=True)
    assert client.open(f"/status/{code}", method=method).status_code == code
    # The host's own form stays protected.
    assert client.post("/form").status_code == 400
