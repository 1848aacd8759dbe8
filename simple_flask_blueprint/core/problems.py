"""Problem: the one error both packages answer as RFC 9457 problem details.

An error that knows its HTTP status, its detail for the client and the
headers its answer needs. Each package registers one handler for it
(simple_flask_blueprint.rest.problem_for), so a new kind of error is a
subclass, never another handler.
"""

from collections.abc import Iterable


class Problem(Exception):
    """An error answered as application/problem+json: `status`, `detail`, `headers`."""

    status = 400

    def __init__(self, detail: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(detail)
        self.detail = detail
        self.headers = tuple(headers)
