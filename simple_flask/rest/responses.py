"""The response builders of the Flask layer, shared with the greeting blueprint.

They are defined in `simple_flask_blueprint.rest.responses`, because that
package ships on its own and may import nothing from `simple_flask`. This is
the one module of the Flask layer that imports the blueprint's Flask side;
`create_app` mounts the blueprint itself (rest/app.py). The other modules
that import `simple_flask_blueprint` take pure facts from its `core`: the
name rule, reason phrases, the methods, the problem builder and the one
error class (tests/test_layers.py keeps it so).
"""

from simple_flask_blueprint.rest.ready import ReadyResponse
from simple_flask_blueprint.rest.responses import (
    PROBLEM_MIMETYPE,
    empty,
    negotiated,
    nosniff,
    prefers_json,
    problem,
    problem_for,
    status_line,
    status_phrase,
)

__all__ = [
    "PROBLEM_MIMETYPE",
    "ReadyResponse",
    "empty",
    "negotiated",
    "nosniff",
    "prefers_json",
    "problem",
    "problem_for",
    "status_line",
    "status_phrase",
]
