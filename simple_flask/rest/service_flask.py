"""ServiceFlask: Flask, not looking for a request's hooks where the app has registered none.

Around every request Flask looks for the functions to run before it
(url_value_preprocessors, before_request_funcs), after it (after_request
functions and after_this_request ones, then the session is saved) and at its
teardown (teardown_request functions), for the app and for each blueprint
of the request's endpoint. It finds those blueprints through the `request`
proxy, whose every attribute read first fails as the proxy's own attribute,
raising and discarding an AttributeError: some 10,000 machine instructions
each time, three times a request. ServiceFlask skips a lookup that cannot
find anything: no before-request hooks at all; no after-request function
for the app or the request's blueprints (read from the request object
itself), no after_this_request function and a null session; no teardown
functions at all (the request_tearing_down signal is still sent).

Each shortcut does what Flask's own method does when there is nothing to
call; it is taken only while Flask's method reads exactly the names it read
when this was written (Flask 3.1), so a Flask release that changes one of
them gets Flask's own method, and tests/simple_flask/rest/test_service_flask.py
fails until the shortcut is checked again.

Speed only: a greeting took 39,000 fewer machine instructions a request
(747,700 -> 708,300, see docs/benchmarks.md). Flask itself would replace it.
"""

import sys
from typing import Any

from flask import Flask, Response
from flask.ctx import RequestContext
from flask.globals import request_ctx
from flask.signals import request_tearing_down

# The names each of Flask's methods reads, as of Flask 3.1.
_EXPECTED = {
    "preprocess_request": {
        "before_request_funcs",
        "blueprints",
        "endpoint",
        "ensure_sync",
        "request",
        "reversed",
        "url_value_preprocessors",
        "view_args",
    },
    "process_response": {
        "_after_request_functions",
        "_get_current_object",
        "_session",
        "after_request_funcs",
        "blueprints",
        "chain",
        "ensure_sync",
        "is_null_session",
        "request",
        "request_ctx",
        "reversed",
        "save_session",
        "session_interface",
    },
    "do_teardown_request": {
        "_sentinel",
        "blueprints",
        "chain",
        "ensure_sync",
        "exc_info",
        "request",
        "request_tearing_down",
        "reversed",
        "send",
        "sys",
        "teardown_request_funcs",
    },
}


def flask_as_expected() -> bool:
    """Tell whether Flask's hook methods read the names the shortcuts were written against."""
    return all(
        set(getattr(Flask, name).__code__.co_names) == names for name, names in _EXPECTED.items()
    )


class ServiceFlask(Flask):
    """A Flask app that skips looking for per-request hooks it does not have."""

    shortcuts = flask_as_expected()

    def preprocess_request(self) -> Any:
        """Run the before-request hooks, as Flask does; with none registered, do nothing."""
        if self.shortcuts and not self.url_value_preprocessors and not self.before_request_funcs:
            return None
        return super().preprocess_request()

    def process_response(self, response: Response) -> Response:
        """Run the after-request hooks and save the session, as Flask does, if there is any."""
        if self.shortcuts:
            # The proxy is typed as the object it stands for.
            context: RequestContext = request_ctx._get_current_object()  # type: ignore[attr-defined]
            if (
                not context._after_request_functions
                and self.session_interface.is_null_session(context._session)
                and not self._has_after_request(context.request.blueprints)
            ):
                return response
        return super().process_response(response)

    def _has_after_request(self, blueprints: list[str]) -> bool:
        """Tell whether after_request functions are registered for the app or `blueprints`."""
        functions = self.after_request_funcs
        # get(), not [], on Flask's defaultdict: looking must not add keys.
        return bool(functions.get(None)) or any(functions.get(name) for name in blueprints)

    def do_teardown_request(self, *args: Any, **kwargs: Any) -> None:
        """Run the teardown hooks and send request_tearing_down, as Flask does."""
        if not self.shortcuts or self.teardown_request_funcs:
            super().do_teardown_request(*args, **kwargs)
            return
        # RequestContext.pop() passes the exception; Flask's default is the current one.
        exc = args[0] if args else kwargs.get("exc", sys.exc_info()[1])
        request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)
