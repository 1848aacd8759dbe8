"""The greeting Blueprint factory: a new, independent Blueprint on every call."""

from collections.abc import Callable

from flask import Blueprint, Response

from ..core import greet
from ..core.problems import Problem
from .responses import negotiated, problem_for


def make_blueprint(
    name: str = "simple_flask_blueprint",
    greeter: Callable[[str | None], str] = greet,
) -> Blueprint:
    """Return a new greeting Blueprint named `name`; the host picks its url_prefix.

    `greeter` turns a name (or None) into the greeting text and raises
    InvalidName for a name it refuses.
    """
    blueprint = Blueprint(name, __name__)

    def greet_view(name: str | None) -> Response:
        text = greeter(name)
        return negotiated(text, {"message": text})

    # One endpoint, two rules: url_for("<name>.greet") builds "/", and with a
    # name it builds "/<name>/".
    blueprint.add_url_rule("/", "greet", greet_view, defaults={"name": None})
    blueprint.add_url_rule("/<name>/", "greet", greet_view)
    # Registered on the blueprint so that it answers the same in a host app
    # that has no error handlers of its own.
    # negotiated() and problem() put X-Content-Type-Options: nosniff on every
    # answer they build, so the Blueprint needs no after_request function.
    blueprint.register_error_handler(Problem, problem_for)
    return blueprint
