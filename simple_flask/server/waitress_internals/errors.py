"""The errors waitress answers before a request reaches the app, in the app's own format.

A malformed request, a head or body over the limit, ambiguous framing: waitress
answers these itself, as plain text. Here they are problem+json, built by the
same builder as the app's errors, with a request id, the CORS headers the
app's answers carry for the request's Origin, and an access-log line.
"""

import logging
import time
from collections.abc import Callable, Iterable

from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from simple_flask_blueprint.core.http_facts import problem_answer

from ...wsgi.access_line import access_line, logged_path
from ...wsgi.request_log import HEADER as REQUEST_ID_HEADER
from ...wsgi.request_log import request_id

logger = logging.getLogger("simple_flask")

# What the server adds to its own error answers for a request's Origin and
# method: the CORS headers the app would add (see rest/cors.py).
ExtraHeaders = Callable[[str | None, str], Iterable[tuple[str, str]]]


def problem_detail(error: object, max_body: int) -> str:
    """Return the detail of the problem+json answer to waitress's `error`.

    `max_body` is waitress's max_request_body_size.
    """
    if isinstance(error, RequestEntityTooLarge):
        # waitress refuses a body of exactly max_request_body_size bytes, so
        # serving.py sets one more than the largest body it accepts.
        return f"The request body exceeds the limit of {max_body - 1} bytes."
    return str(getattr(error, "body", "") or error)


def problem_error_task(
    on_error: Callable[[str], None], extra_headers: ExtraHeaders | None = None
) -> type[ErrorTask]:
    """Return an error task class answering as problem+json, logging each answer with `on_error`."""

    class ProblemErrorTask(ErrorTask):
        """An error answered before the request reaches the app, in the app's own format."""

        # Writes the answer's access-log line.
        log = staticmethod(on_error)

        def execute(self) -> None:
            request = self.request
            error = request.error
            code = error.code
            rid = request_id(request.headers.get("X_REQUEST_ID"))
            method = getattr(request, "command", "") or ""
            detail = problem_detail(error, self.channel.adj.max_request_body_size)
            status, headers, body = problem_answer(code, detail)
            self.status = status
            self.response_headers.extend([*headers, (REQUEST_ID_HEADER, rid)])
            if extra_headers is not None:
                try:
                    self.response_headers.extend(
                        extra_headers(request.headers.get("ORIGIN"), method or "GET")
                    )
                except Exception:
                    # The answer goes out without them rather than not at all.
                    logger.exception("CORS headers for an error answer failed")
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            self.log(
                access_line(
                    self.start_time,
                    method,
                    logged_path("", getattr(request, "path", "") or ""),
                    code,
                    (time.time() - self.start_time) * 1000,
                    len(body),
                    self.channel.addr[0] if self.channel.addr else None,
                    rid,
                )
            )

    return ProblemErrorTask
