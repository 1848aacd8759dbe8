"""The status service's codes: the catalogue, their descriptions, and the parser of one code.

Every parser here refuses bad input with StatusError, whose message names the
broken rule; no other exception escapes them. No web framework is imported.
"""

import re
from http import HTTPStatus

from simple_flask_blueprint.core.http_facts import status_phrase

from .errors import StatusError
from .errors import shown as _shown

MIN_CODE = 200
MAX_CODE = 599
# RFC 9110 forbids content in these responses: no body, so no Content-Type either.
NO_BODY_CODES = frozenset({204, 205, 304})

# Every registered code the service answers, with its reason phrase (from http.HTTPStatus).
CATALOGUE: tuple[tuple[int, str], ...] = tuple(
    (status.value, status.phrase) for status in HTTPStatus if MIN_CODE <= status <= MAX_CODE
)

# Patterns use [0-9], not \d or str.isdigit(): those accept digits of other
# scripts such as "٢٠٠", which int() would quietly read as 200.
_THREE_DIGITS = re.compile(r"[0-9]{3}")


def describe(code: int) -> dict[str, object]:
    """Return the JSON description of `code`: {"code": 404, "description": "Not Found"}."""
    return {"code": code, "description": status_phrase(code)}


def parse_code(text: str) -> int:
    """Return the status code written in `text`: three ASCII digits from 200 to 599."""
    if not _THREE_DIGITS.fullmatch(text):
        raise StatusError(
            f"a status code must be exactly three ASCII digits from {MIN_CODE} to {MAX_CODE}, "
            f"got {_shown(text)}"
        )
    code = int(text)
    if 100 <= code < 200:
        raise StatusError(
            f"1xx codes cannot be sent: a 1xx response is interim, and a WSGI application "
            f"can only send a final one, so the client would wait for another; got {code}"
        )
    if not MIN_CODE <= code <= MAX_CODE:
        raise StatusError(f"a status code must be from {MIN_CODE} to {MAX_CODE}, got {code}")
    return code
