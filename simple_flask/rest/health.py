"""The liveness endpoint: GET /healthz answers 200 while the process serves requests."""

from flask import Blueprint, Response

# The body never changes: build it once.
_OK = '{"status": "ok"}'


def healthz() -> Response:
    """Answer 200 {"status": "ok"}; never cached, so a probe always reaches the process."""
    response = Response(_OK, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def make_health_blueprint() -> Blueprint:
    """Return a new Blueprint holding GET /healthz (HEAD follows from GET)."""
    blueprint = Blueprint("health", __name__)
    blueprint.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    return blueprint
