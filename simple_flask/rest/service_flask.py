"""ServiceFlask: Flask, not looking for a request's hooks where the app has registered none.

Around every request Flask looks for the functions to run before it
(url_value_preprocessors, before_request_funcs), after it (after_request
functions and after_this_request ones, then the session is saved) and at its
teardown (teardown_request functions, then the request_tearing_down signal),
for the app and for each blueprint of the request's endpoint. ServiceFlask
skips a lookup that cannot find anything: no before-request hooks at all;
no after-request function for the app or the request's blueprints, no
after_this_request function and a null session; no teardown function and no
receiver of the signal.

The after-request shortcut reads two things Flask does not promise: where
the request's context keeps its after_this_request functions and its
session. prove() finds them by behaviour, and checks that a probe app
answers the same requests alike with the shortcuts and with Flask's own
methods, and that Flask calls the methods at all; create_app() takes the
shortcuts only where it holds, and a warning says when it does not. Flask 3.2 passes
the context to these methods, older releases do not: both are served.

Speed only: a greeting takes about 39,000 fewer machine instructions a
request (docs/benchmarks.md). Flask itself would replace it.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, after_this_request
from flask.sessions import SecureCookieSession
from flask.signals import request_tearing_down

from .probe import probe_environ

if TYPE_CHECKING:
    from flask.ctx import AppContext

# Flask 3.2 passes the request's context to the hook methods (a public signature).
TAKES_CONTEXT = "ctx" in inspect.signature(Flask.process_response).parameters
HOOK_METHODS = ("preprocess_request", "process_response", "do_teardown_request")


def _current_context() -> Any:
    """Return the request context Flask before 3.2 keeps for the current request."""
    # Imported here: Flask 3.2 warns about the name, and never takes this path.
    from flask.globals import request_ctx

    return request_ctx._get_current_object()  # type: ignore[attr-defined,unused-ignore]


class ServiceFlask(Flask):
    """A Flask app that skips looking for per-request hooks it does not have."""

    # Set per app by create_app() from prove(); off until proven.
    shortcuts = False
    # The context's attributes holding after_this_request functions and the
    # session, as prove() found them.
    after_attribute = "_after_request_functions"
    session_attribute = "_session"

    def skip_before(self) -> bool:
        """Tell whether no before-request hook is registered at all."""
        return not self.url_value_preprocessors and not self.before_request_funcs

    def skip_after(self, context: Any) -> bool:
        """Tell whether the request of `context` has no after-request work: no hook, no session."""
        functions = self.after_request_funcs
        return (
            not getattr(context, self.after_attribute)
            and self.session_interface.is_null_session(getattr(context, self.session_attribute))
            # get(), not [], on Flask's defaultdict: looking must not add keys.
            and not functions.get(None)
            and not any(functions.get(name) for name in context.request.blueprints)
        )

    def skip_teardown(self) -> bool:
        """Tell whether tearing a request down calls nothing: no function, no signal receiver."""
        return not self.teardown_request_funcs and not request_tearing_down.receivers

    # Flask before 3.2 calls the hook methods without the request's context;
    # Flask 3.2 passes it, and warns about an override without it.
    if not TAKES_CONTEXT:

        def preprocess_request(self) -> Any:  # type: ignore[override,unused-ignore]
            """Run the before-request hooks, as Flask does; with none registered, do nothing."""
            if self.shortcuts and self.skip_before():
                return None
            return super().preprocess_request()  # type: ignore[call-arg,unused-ignore]

        def process_response(self, response: Response) -> Response:  # type: ignore[override,unused-ignore]
            """Run the after-request hooks and save the session, as Flask does, if there is any."""
            if self.shortcuts and self.skip_after(_current_context()):
                return response
            return super().process_response(response)  # type: ignore[call-arg,arg-type,unused-ignore]

        def do_teardown_request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override,unused-ignore]
            """Run the teardown hooks and send request_tearing_down, as Flask does."""
            if not (self.shortcuts and self.skip_teardown()):
                super().do_teardown_request(*args, **kwargs)  # type: ignore[misc,unused-ignore]

    else:
        # Typed against the Flask the type checker sees, which may be older.

        def preprocess_request(self, ctx: AppContext) -> Any:  # type: ignore[misc,override,unused-ignore]
            """Run the before-request hooks, as Flask does; with none registered, do nothing."""
            if self.shortcuts and self.skip_before():
                return None
            return super().preprocess_request(ctx)  # type: ignore[call-arg,unused-ignore]

        def process_response(self, ctx: AppContext, response: Response) -> Response:  # type: ignore[misc,override,unused-ignore]
            """Run the after-request hooks and save the session, as Flask does, if there is any."""
            if self.shortcuts and self.skip_after(ctx):
                return response
            return super().process_response(ctx, response)  # type: ignore[call-arg,arg-type,unused-ignore]

        def do_teardown_request(  # type: ignore[misc,override,unused-ignore]
            self, ctx: AppContext, exc: BaseException | None = None
        ) -> None:
            """Run the teardown hooks and send request_tearing_down, as Flask does."""
            if not (self.shortcuts and self.skip_teardown()):
                super().do_teardown_request(ctx, exc)  # type: ignore[call-arg,arg-type,unused-ignore]


# --- the proof ------------------------------------------------------------------------------

# Requests of the probe app: a view, a blueprint's view, one whose blueprint
# has an after_request function, a 404, a view that raises.
PROBE_PATHS = ("/", "/bp/", "/hooked/", "/no/such/route", "/boom")


def _probe_app() -> ServiceFlask:
    """Return an app like create_app()'s, apart from it: probing marks an app as serving."""
    app = ServiceFlask("simple_flask.probe")
    app.add_url_rule("/", "index", lambda: "index")
    plain = Blueprint("bp", __name__)
    plain.add_url_rule("/", "index", lambda: "blueprint")
    app.register_blueprint(plain, url_prefix="/bp")
    hooked = Blueprint("hooked", __name__)
    hooked.add_url_rule("/", "index", lambda: "hooked")
    hooked.after_request(_mark)
    app.register_blueprint(hooked, url_prefix="/hooked")

    def boom() -> str:
        raise RuntimeError("probe")

    app.add_url_rule("/boom", "boom", boom)
    # Flask would log the probe's 500 as an error.
    app.logger.disabled = True
    return app


def _mark(response: Response) -> Response:
    response.headers["X-Hooked"] = "1"
    return response


def _answer(app: Flask, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Serve GET `path` through `app`; return what a server would send."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
        started.append((status, headers))

    body = app.wsgi_app(probe_environ("GET", path), start_response)
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    ((status, headers),) = started
    return status, sorted(headers), data


def _context_attributes(app: ServiceFlask) -> tuple[str, str] | None:
    """Find the request context's attributes for after_this_request functions and the session.

    Found by what they hold, inside a request: the list that after_this_request()
    appended to, and the null session the session interface made.
    """

    def mark(response: Response) -> Response:
        return response

    with app.request_context(probe_environ()) as pushed:
        after_this_request(mark)
        held = vars(pushed if TAKES_CONTEXT else _current_context())
        after = [name for name, value in held.items() if type(value) is list and mark in value]
        session = [
            name
            for name, value in held.items()
            if value is not None and app.session_interface.is_null_session(value)
        ]
    if len(after) != 1 or len(session) != 1:
        return None
    return after[0], session[0]


def _taken_only_when_idle(app: ServiceFlask) -> bool:
    """Tell whether each shortcut is taken with nothing to call, and not once there is."""
    with app.request_context(probe_environ()) as pushed:
        context = pushed if TAKES_CONTEXT else _current_context()
        if not (app.skip_before() and app.skip_after(context) and app.skip_teardown()):
            return False
        session = getattr(context, app.session_attribute)
        # A session that is not null is saved.
        setattr(context, app.session_attribute, SecureCookieSession())
        saved = not app.skip_after(context)
        setattr(context, app.session_attribute, session)
        after_this_request(_mark)
        return saved and not app.skip_after(context)


def prove() -> str | None:
    """Return None when the shortcuts change nothing a request sees; else why they may not be used.

    A probe app serves the same requests with the shortcuts and with Flask's
    own methods. On success the context's attributes found are kept on
    ServiceFlask.
    """
    app = _probe_app()
    found = _context_attributes(app)
    if found is None:
        return "the request context's after_this_request functions and session were not found"
    app.after_attribute, app.session_attribute = found
    calls: Counter[str] = Counter()
    for name in HOOK_METHODS:
        method: Callable[..., Any] = getattr(app, name)

        def counted(*args: Any, _name: str = name, _method: Callable[..., Any] = method) -> Any:
            calls[_name] += 1
            return _method(*args)

        # An instance attribute: Flask calls it in place of the method.
        setattr(app, name, counted)
    answers = {}
    for shortcuts in (False, True):
        app.shortcuts = shortcuts
        answers[shortcuts] = [_answer(app, path) for path in PROBE_PATHS]
    if answers[True] != answers[False]:
        return "the probe app answers differently with the shortcuts"
    missed = [name for name in HOOK_METHODS if not calls[name]]
    if missed:
        return f"this Flask does not call {', '.join(missed)}"
    if not _taken_only_when_idle(app):
        return "the shortcuts are not taken exactly when there is nothing to call"
    ServiceFlask.after_attribute, ServiceFlask.session_attribute = found
    return None
