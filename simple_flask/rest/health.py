"""Liveness and readiness: /healthz while the process serves, /readyz while its store answers.

/healthz never depends on anything outside the process, so an orchestrator
never restarts a replica because Redis is down; /readyz does, so it stops
sending traffic to a replica that cannot serve sequences.
"""

from flask import Blueprint, Response

from ..core.errors import StoreUnavailable
from ..core.sequences import SequenceStore
from .responses import problem_for

# The body never changes: build it once.
_OK = '{"status": "ok"}'


def healthz() -> Response:
    """Answer 200 {"status": "ok"}; never cached, so a probe always reaches the process."""
    response = Response(_OK, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def make_health_blueprint(store: SequenceStore | None = None) -> Blueprint:
    """Return a new Blueprint holding GET /healthz and /readyz (HEAD follows from GET).

    /readyz answers 503 while `store` cannot be reached, 200 otherwise.
    """
    blueprint = Blueprint("health", __name__)
    blueprint.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])

    def readyz() -> Response:
        try:
            if store is not None:
                store.ping()
        except StoreUnavailable as error:
            response = problem_for(error)
        else:
            response = healthz()
        response.headers["Cache-Control"] = "no-store"
        return response

    blueprint.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    return blueprint
