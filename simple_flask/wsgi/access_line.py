"""The access log's line: one JSON object per request, formatted cheaply, written at once.

Used by the request log (request_log.py) and by the server for the answers
it gives itself (waitress's own errors, a drain's cut-offs).
"""

import json
import sys
import time

from simple_flask_blueprint.core.http_facts import METHODS

# Paths longer than this are cut in the log, so one request cannot write a
# line of hundreds of KiB.
MAX_LOGGED_PATH = 1024
# Methods are cut the same way: a request line may hold a method of any length
# (waitress answers it 405 or 501, and it is logged all the same).
MAX_LOGGED_METHOD = 32
# Longest JSON text of the path and of the client address in a line: an escaped
# character takes up to 12 (\ud83d\ude00), so the quoted form is cut too, and a
# line stays under 3 KiB (a method of MAX_LOGGED_METHOD quotes to 12 times that).
MAX_QUOTED_PATH = 2 * MAX_LOGGED_PATH
MAX_QUOTED_CLIENT = 256

# JSONEncoder.encode quotes a str in C, with less overhead than json.dumps.
_encode = json.JSONEncoder().encode
_QUOTED_METHODS = {method: f'"{method}"' for method in METHODS}
_THOUSANDTHS = tuple(f"{number:03d}" for number in range(1000))
# (whole second, its ISO 8601 text): strftime runs once a second, not once a request.
_second: tuple[int, str] = (-1, "")


def _second_text(whole: int) -> str:
    """Return the ISO 8601 text of the whole second `whole`, formatting it once a second."""
    global _second
    cached = _second
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        # One tuple is swapped in at once, so threads never see half an update.
        _second = cached
    return cached[1]


def logged_method(method: str) -> str:
    """Return the request method for the log, cut short."""
    return method if len(method) <= MAX_LOGGED_METHOD else method[:MAX_LOGGED_METHOD] + "..."


def _quote_within(text: str | None, limit: int) -> str:
    """Return `text` as a JSON string of at most about `limit` characters, cut with "..."."""
    quoted = _encode(text)
    # None quotes as "null", which is always short: the loop only sees text.
    while text is not None and len(quoted) > limit:
        # Escapes make the quoted text longer than the text; cutting in
        # proportion converges in a step or two.
        text = text[: max(0, len(text) * limit // len(quoted) - 8)]
        quoted = _encode(text + "...")
    return quoted


def logged_path(script_name: str, path_info: str) -> str:
    """Return the request path for the log: WSGI's latin-1 text read back as UTF-8, cut short."""
    path = script_name + path_info
    if not path.isascii():
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def access_line(
    started: float,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    size: int,
    client: str | None,
    request_id: str,
    faults: tuple[str, ...] = (),
) -> str:
    """Format one access-log line: a JSON object and a newline.

    `faults` are those the answer carried on purpose (see .environ), named in
    a "fault" field: "reset", "stall+truncate"; the field is left out without one.
    """
    # One f-string instead of json.dumps of a dict: the numbers and the
    # validated request id need no escaping, and the strings are quoted by
    # JSON's encoder only when they hold something to escape (string methods
    # tell, at half the cost of a regular expression on short text).
    whole = int(started)
    # The second's text is formatted once a second (see _second_text).
    second = _second
    second_text = second[1] if second[0] == whole else _second_text(whole)
    method = _QUOTED_METHODS.get(method) or _encode(logged_method(method))
    if path.isascii() and path.isprintable() and '"' not in path and "\\" not in path:
        quoted_path = f'"{path}"'
    else:
        quoted_path = _encode(path)
    if len(quoted_path) > MAX_QUOTED_PATH:
        quoted_path = _quote_within(path, MAX_QUOTED_PATH)
    if (
        client is not None
        and client.isascii()
        and client.isprintable()
        and '"' not in client
        and "\\" not in client
        and len(client) <= MAX_QUOTED_CLIENT
    ):
        client = f'"{client}"'
    else:
        client = _quote_within(client, MAX_QUOTED_CLIENT)
    # Milliseconds and microseconds are written from a table of "000" to
    # "999": formatting a float or a padded integer costs more.
    micros = round(duration_ms * 1000)
    return (
        f'{{"time":"{second_text}.{_THOUSANDTHS[int((started - whole) * 1000)]}Z",'
        f'"method":{method},"path":{quoted_path},'
        f'"status":{status},"duration_ms":{micros // 1000}.{_THOUSANDTHS[micros % 1000]},'
        f'"bytes":{size},"client":{client},"request_id":"{request_id}"'
        + (f',"fault":"{"+".join(faults)}"}}\n' if faults else "}\n")
    )


def write_line(line: str) -> None:
    """Write one log line to stdout with a single write; a closed stdout loses the line."""
    try:
        sys.stdout.write(line)
    except (OSError, ValueError):
        # The response has gone out already; a log that cannot be written must
        # not turn it into an error.
        pass
