"""The response builders the root app shares with the greeting blueprint.

They are defined in `simple_flask_blueprint.rest.responses`, because that
package ships on its own and may import nothing from `simple_flask`; the
root's modules import them from here, the one place where the root reaches
into the blueprint's helpers. The blueprint's greeting view is the other
crossing: `create_app` hands it the root's greeter, which applies the
blueprint's name rule (`simple_flask_blueprint.core.validate_name`).
"""

from simple_flask_blueprint.rest.ready import ReadyResponse
from simple_flask_blueprint.rest.responses import (
    PROBLEM_MIMETYPE,
    negotiated,
    nosniff,
    problem,
    status_phrase,
    with_phrase,
)

__all__ = [
    "PROBLEM_MIMETYPE",
    "ReadyResponse",
    "negotiated",
    "nosniff",
    "problem",
    "status_phrase",
    "with_phrase",
]
