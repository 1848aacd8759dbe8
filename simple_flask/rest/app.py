"""The app factory of the root service."""

from collections.abc import Callable, Mapping

from flask import Flask, Response

from ..core.settings import Settings

# Where the status blueprint is mounted; the status memo answers under the same prefix.
STATUS_PREFIX = "/status"


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the root Flask app and register its blueprints under their URL prefixes.

    `config` updates the Flask config; its "SETTINGS" key may hold a Settings
    object, which is otherwise read from the environment. A repeated
    /status/<code> is answered from a memo outside Flask, without the app's
    hooks or signals (simple_flask.wsgi.status_memo).
    """
    from simple_flask_blueprint import make_blueprint

    from ..apidoc.docs import SERVICE_LINKS, register_docs
    from ..apidoc.openapi import register_openapi
    from ..core import greet
    from ..core.proofs import Kind, holds
    from ..state import open_store
    from ..wsgi.request_log import RequestLog
    from ..wsgi.status_memo import StatusMemo
    from .cors import EXTENSION as CORS_EXTENSION
    from .cors import configure_cors
    from .errors import register_error_handlers
    from .finishing import finishing_response_class
    from .finishing import prove as prove_finishing
    from .health import make_health_blueprint
    from .service_flask import ServiceFlask
    from .service_flask import prove as prove_hooks
    from .status import make_status_blueprint

    # No static files: a /static/<path> route would only answer 404s, and
    # every route must be in the OpenAPI document.
    app = ServiceFlask("simple_flask", static_folder=None)
    app.config.from_mapping(config or {})
    # Read the environment only when no settings were given: a bad variable
    # must not stop an app whose caller chose its settings.
    if "SETTINGS" not in app.config:
        app.config["SETTINGS"] = Settings.from_env()
    settings = app.config["SETTINGS"]
    # Werkzeug answers a larger body with 413 before a view reads it. (Flask's
    # defaults hold MAX_CONTENT_LENGTH=None, so setdefault() would keep None.)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = settings.max_request_body

    # One store per app, shared by the status routes and /readyz.
    # A quarter of the worker threads at most wait on a slow Redis (state/guard.py).
    store = app.extensions["simple_flask.sequences"] = open_store(
        settings.state_url,
        settings.sequence_ttl,
        settings.max_sequences,
        prefix=settings.state_prefix,
        waiting=max(1, settings.threads // 4),
    )
    # Werkzeug would look, on every match, for a rule of the same endpoint
    # whose defaults give the same values, to redirect to it. The only rules
    # with defaults are the greetings' "/" (name=None), and no URL yields a
    # name of None, so the search never finds one: it is skipped.
    app.url_map.redirect_defaults = False
    app.register_blueprint(make_blueprint("greeting", greeter=greet))
    app.register_blueprint(make_blueprint(), url_prefix="/blueprint")
    # At most half the worker threads may sleep in ?sleep=, so delays never starve the server.
    app.register_blueprint(
        make_status_blueprint(
            max_sleep_ms=settings.max_sleep_ms,
            max_size=settings.max_answer_size,
            sleep_slots=max(1, settings.threads // 2),
            store=store,
        ),
        url_prefix=STATUS_PREFIX,
    )

    app.register_blueprint(make_health_blueprint(store))

    register_openapi(app)
    register_docs(app)
    # GET / (and HEAD) names the API's description and its page (RFC 8631).
    # The greeting blueprint knows nothing of them, so the root app wraps its
    # one view, which serves "/" (name None) and "/<name>/": only "/" gets the
    # header, a pair made once; a named greeting pays one call and a test.
    # Typed as what it is, negotiated()'s answer: a cast would cost a call a greeting.
    greet_view: Callable[[str | None], Response] = app.view_functions["greeting.greet"]  # type: ignore[assignment]

    def greet_with_links(name: str | None) -> Response:
        """Greet `name`; the root's greeting also carries the Link header."""
        response = greet_view(name)
        if name is None:
            response.headers.add(*SERVICE_LINKS)
        return response

    app.view_functions["greeting.greet"] = greet_with_links

    register_error_handlers(app)
    # On the app, not a blueprint: 404, 405 and preflights of every path get
    # CORS too. Every answer is finished as it leaves Flask: CORS headers,
    # nosniff, and the registered phrase and a relative Location on 3xx answers.
    cors = configure_cors(app, settings)
    app.response_class = finishing_response_class(cors)
    # The shortcuts, each taken where its proof holds on this Flask and Werkzeug.
    app.response_class.skip_copy = holds(
        "Werkzeug's copy of unchanged headers skipped", Kind.SHORTCUT, prove_finishing
    )
    app.shortcuts = holds("Flask's search for absent hooks skipped", Kind.SHORTCUT, prove_hooks)
    # The server adds the same headers to the errors it answers itself.
    app.extensions[CORS_EXTENSION] = cors
    # Outermost, so every response, errors included, carries X-Request-ID and is logged.
    # Inside RequestLog, so replayed answers get their own request id and log line.
    # Flask documents replacing wsgi_app to add middleware; mypy sees a method.
    app.wsgi_app = RequestLog(  # type: ignore[method-assign]
        StatusMemo(app.wsgi_app, prefix=STATUS_PREFIX + "/", store=store),
        access_log=settings.access_log,
    )
    return app
