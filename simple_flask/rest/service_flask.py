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

import contextlib
import inspect
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, after_this_request, session
from flask.signals import request_tearing_down

from .probe import probe_environ

if TYPE_CHECKING:
    from flask.ctx import AppContext

# Flask 3.2 passes the request's context to the hook methods (a public signature).
TAKES_CONTEXT = "ctx" in inspect.signature(Flask.process_response).parameters
HOOK_METHODS = ("preprocess_request", "process_response", "do_teardown_request")

if not TAKES_CONTEXT:
    # Flask 3.2 warns about the name, and never takes this path.
    from flask.globals import request_ctx


class ServiceFlask(Flask):
    """A Flask app that skips looking for per-request hooks it does not have."""

    # Set per app by create_app() from prove(); off until proven.
    shortcuts = False
    # The context's attributes holding after_this_request functions and the
    # session, as prove() found them.
    after_attribute = "_after_request_functions"
    session_attribute = "_session"

    def nothing_after(self, context: Any) -> bool:
        """Tell whether the request of `context` has no after-request work: no hook, no session."""
        functions = self.after_request_funcs
        return (
            not getattr(context, self.after_attribute)
            and self.session_interface.is_null_session(getattr(context, self.session_attribute))
            # get(), not [], on Flask's defaultdict: looking must not add keys.
            and not functions.get(None)
            and not any(functions.get(name) for name in context.request.blueprints)
        )

    # Flask before 3.2 calls the hook methods without the request's context;
    # Flask 3.2 passes it, and warns about an override without it. Each
    # skips Flask's method when there is nothing to call: no before-request
    # hook at all; nothing_after(); no teardown function and no receiver of
    # the signal. The conditions are written in each method, not called:
    # these run three times a request.
    if not TAKES_CONTEXT:

        def preprocess_request(self) -> Any:  # type: ignore[override,unused-ignore]
            """Run the before-request hooks, as Flask does; with none registered, do nothing."""
            if (
                self.shortcuts
                and not self.url_value_preprocessors
                and not self.before_request_funcs
            ):
                return None
            return super().preprocess_request()  # type: ignore[call-arg,unused-ignore]

        def process_response(self, response: Response) -> Response:  # type: ignore[override,unused-ignore]
            """Run the after-request hooks and save the session, as Flask does, if there is any."""
            # The proxy is typed as the object it stands for.
            context = request_ctx._get_current_object()  # type: ignore[attr-defined,unused-ignore]
            if self.shortcuts and self.nothing_after(context):
                return response
            return super().process_response(response)  # type: ignore[call-arg,arg-type,unused-ignore]

        def do_teardown_request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override,unused-ignore]
            """Run the teardown hooks and send request_tearing_down, as Flask does."""
            if (
                self.shortcuts
                and not self.teardown_request_funcs
                and not request_tearing_down.receivers
            ):
                return
            super().do_teardown_request(*args, **kwargs)  # type: ignore[misc,unused-ignore]

    else:
        # Typed against the Flask the type checker sees, which may be older.

        def preprocess_request(self, ctx: AppContext) -> Any:  # type: ignore[misc,override,unused-ignore]
            """Run the before-request hooks, as Flask does; with none registered, do nothing."""
            if (
                self.shortcuts
                and not self.url_value_preprocessors
                and not self.before_request_funcs
            ):
                return None
            return super().preprocess_request(ctx)  # type: ignore[call-arg,unused-ignore]

        def process_response(self, ctx: AppContext, response: Response) -> Response:  # type: ignore[misc,override,unused-ignore]
            """Run the after-request hooks and save the session, as Flask does, if there is any."""
            if self.shortcuts and self.nothing_after(ctx):
                return response
            return super().process_response(ctx, response)  # type: ignore[call-arg,arg-type,unused-ignore]

        def do_teardown_request(  # type: ignore[misc,override,unused-ignore]
            self, ctx: AppContext, exc: BaseException | None = None
        ) -> None:
            """Run the teardown hooks and send request_tearing_down, as Flask does."""
            if (
                self.shortcuts
                and not self.teardown_request_funcs
                and not request_tearing_down.receivers
            ):
                return
            super().do_teardown_request(ctx, exc)  # type: ignore[call-arg,arg-type,unused-ignore]


# --- the proof ------------------------------------------------------------------------------

# Requests of the probe app, and whether each has after-request work (hooks
# or a session to save) for Flask's process_response to do: a view, a
# blueprint's view, a 404, a view that raises, then a blueprint with an
# after_request function, a view with an after_this_request one, and a view
# that writes the session.
PROBE_REQUESTS = (
    ("/", False),
    ("/bp/", False),
    ("/no/such/route", False),
    ("/boom", False),
    ("/hooked/", True),
    ("/once", True),
    ("/session", True),
)


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

    def once() -> str:
        after_this_request(_mark)
        return "once"

    def write_session() -> str:
        session["n"] = 1
        return "session"

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/once", "once", once)
    app.add_url_rule("/session", "session", write_session)
    # Flask would log the probe's 500 as an error.
    app.logger.disabled = True
    return app


def _mark(response: Response) -> Response:
    response.headers["X-Hooked"] = "1"
    return response


def _answer(app: Flask, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Serve GET `path` through `app`; return what a server would send.

    Only /session has a secret key, so only there is the session not null.
    """
    # Signs the probe's session cookie, which never leaves this process.
    app.secret_key = "probe" if path == "/session" else None
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
        context = pushed if TAKES_CONTEXT else request_ctx._get_current_object()  # type: ignore[attr-defined,unused-ignore]
        held = vars(context)
        after = [name for name, value in held.items() if type(value) is list and mark in value]
        session = [
            name
            for name, value in held.items()
            if value is not None and app.session_interface.is_null_session(value)
        ]
    if len(after) != 1 or len(session) != 1:
        return None
    return after[0], session[0]


@contextlib.contextmanager
def _flask_calls() -> Iterator[Counter[str]]:
    """Count, for the block, the calls of Flask's own hook methods (the ones the shortcuts skip)."""
    calls: Counter[str] = Counter()
    originals = {name: vars(Flask)[name] for name in HOOK_METHODS}

    def counting(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: Flask, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return method(self, *args, **kwargs)

        return counted

    try:
        for name, method in originals.items():
            setattr(Flask, name, counting(name, method))
        yield calls
    finally:
        for name, method in originals.items():
            setattr(Flask, name, method)


def prove() -> str | None:
    """Return None when the shortcuts change nothing a request sees; else why they may not be used.

    A probe app serves the same requests with the shortcuts and with Flask's
    own methods: they must be answered alike, Flask must call the hook
    methods at all, and with the shortcuts Flask's process_response must run
    for exactly the requests with after-request work. On success the
    context's attributes found are kept on ServiceFlask.
    """
    app = _probe_app()
    found = _context_attributes(app)
    if found is None:
        return "the request context's after_this_request functions and session were not found"
    app.after_attribute, app.session_attribute = found
    answers: dict[bool, list[tuple[str, list[tuple[str, str]], bytes]]] = {}
    calls: dict[bool, list[Counter[str]]] = {}
    for shortcuts in (False, True):
        app.shortcuts = shortcuts
        answers[shortcuts] = []
        calls[shortcuts] = []
        for path, _ in PROBE_REQUESTS:
            with _flask_calls() as counted:
                answers[shortcuts].append(_answer(app, path))
            calls[shortcuts].append(counted)
    if answers[True] != answers[False]:
        return "the probe app answers differently with the shortcuts"
    missed = [name for name in HOOK_METHODS if not any(c[name] for c in calls[False])]
    if missed:
        return f"this Flask does not call {', '.join(missed)}"
    for (path, work), counted in zip(PROBE_REQUESTS, calls[True], strict=True):
        skipped = {name for name in HOOK_METHODS if not counted[name]}
        if ("process_response" not in skipped) != work or not {
            "preprocess_request",
            "do_teardown_request",
        } <= skipped:
            return f"the shortcuts are not taken exactly when there is nothing to call ({path})"
    ServiceFlask.after_attribute, ServiceFlask.session_attribute = found
    return None
