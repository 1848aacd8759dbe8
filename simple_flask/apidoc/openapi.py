"""The OpenAPI document of the root app: openapi.yaml, filled in from the code, at /openapi.json.

The document is data; this module fills its `${NAME}` placeholders with the
limits the code enforces and the patterns built from them (a status list's
entries and options), adds HEAD beside every GET and an operationId to every
operation, writes each parameter out whole where a path uses it, for Swagger
UI on /docs (refs.py), and serves it with an ETag.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, current_app, request

from simple_flask_blueprint.core import MAX_NAME_LENGTH, MIN_NAME_LENGTH
from simple_flask_blueprint.core.http_facts import METHODS

from ..core.entries import MAX_ENTRIES
from ..core.options import MAX_DIGITS as MAX_OPTION_DIGITS
from ..core.options import OPTION_NAMES, SIZE_PATTERN
from ..core.query import MAX_LOCATION_LENGTH, MAX_SEED_DIGITS
from ..core.sequences import LISTED_KEYS, MAX_HISTORY, MAX_KEY_LENGTH
from ..core.settings import Settings
from ..core.status_faults import (
    ENTRY_FAULTS,
    MAX_HEADER_NAME,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    MAX_RETRY_AFTER,
    MAX_TRUNCATE,
    RETRY_AFTER_DATE,
    RETRY_AFTER_NONE,
)
from ..core.version import __version__
from .refs import inline_path_parameters

SOURCE = Path(__file__).with_name("openapi.yaml")
# The keys of a path item that are operations; the others describe the path.
# OpenAPI's list is the service's methods and TRACE, which the service never answers.
HTTP_METHODS = frozenset({method.lower() for method in METHODS} | {"trace"})
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
_EXTENSION = "simple_flask.openapi"


def reserved_names(app: Flask) -> tuple[str, ...]:
    """Return the names "/<name>/" cannot greet: first path segments of other routes' paths."""
    names = set()
    for rule in app.url_map.iter_rules():
        first, slash, _ = rule.rule.lstrip("/").partition("/")
        if slash and "<" not in first:
            names.add(first)
    return tuple(sorted(names))


def single_segment_routes(app: Flask) -> tuple[str, ...]:
    """Return the one-segment paths routed without a slash after (healthz): not redirects."""
    return tuple(
        sorted(
            rule.rule[1:]
            for rule in app.url_map.iter_rules()
            if rule.rule.count("/") == 1 and "<" not in rule.rule and rule.rule != "/"
        )
    )


def number_pattern(largest: int, width: int | None = None) -> str:
    """Return a regex of the numbers from 0 to `largest` in ASCII digits.

    Leading zeros are allowed up to `width` digits in all, or without limit
    when `width` is None: the parsers read both.
    """
    digits = str(largest)
    length = len(digits)
    # As long as `largest`: its first i digits, a smaller one, then any; or `largest`.
    same_length = [
        digits[:i] + f"[0-{int(digit) - 1}]" + _any_digits(length - i - 1)
        for i, digit in enumerate(digits)
        if digit != "0"
    ]
    zeros = "0*" if width is None else f"0{{0,{width - length}}}" if width > length else ""
    # Fewer digits than `largest`: any.
    shorter = "" if length == 1 else f"|{_any_digits(1)}{{1,{length - 1}}}"
    return f"(?:{zeros}(?:{'|'.join([*same_length, digits])}){shorter})"


def _any_digits(count: int) -> str:
    return "" if count == 0 else "[0-9]" if count == 1 else f"[0-9]{{{count}}}"


def option_patterns(settings: Settings) -> dict[str, str]:
    """Return the regex of each option's value, as core/options.py reads it under `settings`."""
    delay = number_pattern(settings.max_sleep_ms)
    # A delay, or a range of delays: "<min>..<max>".
    span = rf"{delay}(?:\.\.{delay})?"
    seconds = number_pattern(MAX_RETRY_AFTER, width=len(str(MAX_RETRY_AFTER)))
    patterns = {
        "sleep": span,
        "stall": span,
        "truncate": number_pattern(MAX_TRUNCATE, width=len(str(MAX_TRUNCATE))),
        "retry_after": f"(?:{RETRY_AFTER_NONE}|(?:{RETRY_AFTER_DATE})?{seconds})",
        "size": number_pattern(settings.max_answer_size),
        # At least 1, and no more significant digits than options.py reads
        # (MAX_DIGITS: the only bound above a rate has).
        "rate": f"0*[1-9][0-9]{{0,{MAX_OPTION_DIGITS - 1}}}",
    }
    assert tuple(patterns) == OPTION_NAMES, "every option has a pattern, in order"
    return patterns


def entry_pattern(settings: Settings, weighted: bool) -> str:
    """Return the regex of one entry of a status list; `weighted` for a list, not a sequence."""
    values = option_patterns(settings)
    options = "|".join(f"{name}={value}" for name, value in values.items())
    weight = r"(?::(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?" if weighted else ""
    faults = "|".join(ENTRY_FAULTS)
    # A fault entry sends no answer of the app's: of the options it takes sleep alone.
    return (
        f"(?:[2-5][0-9]{{2}}{weight}(?:;(?:{options}))*"
        f"|(?:{faults}){weight}(?:;sleep={values['sleep']})*)"
    )


def sized_body_pattern() -> str:
    """Return the regex of a body of `size` bytes: SIZE_PATTERN's line repeated, the last cut."""
    line = SIZE_PATTERN.decode("ascii")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\n", line), "no character of the line needs escaping"
    # The cut line: its first character, optionally followed by the next, and so on.
    cut = ""
    for character in reversed(line[:-1]):
        cut = f"(?:{character}{cut})?"
    return rf"^(?:{line[:-1]}\n)*{cut}$"


def values_of(app: Flask) -> dict[str, object]:
    """Return what each placeholder of openapi.yaml stands for in `app`."""
    max_seed = 10**MAX_SEED_DIGITS - 1
    reserved = reserved_names(app)
    settings: Settings = app.config["SETTINGS"]
    return {
        **{f"{name.upper()}_VALUE": value for name, value in option_patterns(settings).items()},
        "VERSION": __version__,
        "MIN_NAME_LENGTH": MIN_NAME_LENGTH,
        "MAX_NAME_LENGTH": MAX_NAME_LENGTH,
        "RESERVED_NAMES": list(reserved),
        "RESERVED_NAMES_TEXT": ", ".join(f"`{name}`" for name in reserved),
        "SINGLE_SEGMENT_ROUTES": list(single_segment_routes(app)),
        "MAX_ENTRIES": MAX_ENTRIES,
        "MORE_ENTRIES": MAX_ENTRIES - 1,
        "MIN_SEED": -max_seed,
        "MAX_SEED": max_seed,
        "MAX_SLEEP_MS": settings.max_sleep_ms,
        "MAX_ANSWER_SIZE": settings.max_answer_size,
        "OPTION_NAMES_TEXT": ", ".join(f"`{name}`" for name in OPTION_NAMES),
        "FAULT_WORDS_TEXT": ", ".join(f"`{word}`" for word in ENTRY_FAULTS),
        "ENTRY": entry_pattern(settings, weighted=True),
        "SEQUENCE_ENTRY": entry_pattern(settings, weighted=False),
        "SIZED_BODY": sized_body_pattern(),
        "METHODS": list(METHODS),
        "MAX_LOCATION_LENGTH": MAX_LOCATION_LENGTH,
        "MAX_TRUNCATE": MAX_TRUNCATE,
        "MAX_RETRY_AFTER": MAX_RETRY_AFTER,
        "MAX_HEADERS": MAX_HEADERS,
        # The longest name, the colon and the longest value.
        "MAX_HEADER_TEXT": MAX_HEADER_NAME + 1 + MAX_HEADER_VALUE,
        "MAX_KEY_LENGTH": MAX_KEY_LENGTH,
        "MAX_HISTORY": MAX_HISTORY,
        "LISTED_KEYS": LISTED_KEYS,
    }


def fill(node: Any, values: dict[str, object]) -> Any:
    """Return a copy of `node` with each placeholder replaced; a lone one keeps its value's type."""
    if isinstance(node, dict):
        return {key: fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [fill(item, values) for item in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), node)
    return node


# Path items that only redirect to the same path with a trailing slash; any
# other method gets 404 there, as for any path no route matches.
REDIRECT_MARK = "x-trailing-slash-redirect"
TOO_LARGE = "#/components/responses/TooLarge"


def _add_too_large(paths: dict[str, Any]) -> dict[str, Any]:
    """Add 413 to every operation: waitress refuses a body over the limit before any route.

    It comes from the server in front of the views, so it is added here rather
    than repeated under every operation of openapi.yaml. (A method a path does
    not route gets 405 with Allow, components/responses/MethodNotAllowed: in
    OpenAPI the methods of a path item are the ones it allows, so those 405s
    are not operations of their own.)
    """
    for item in paths.values():
        for method in HTTP_METHODS.intersection(item):
            # The status route documents 413 itself: it also answers 413 when asked to.
            item[method]["responses"].setdefault("413", {"$ref": TOO_LARGE})
    return paths


def _add_head_and_ids(paths: dict[str, Any]) -> dict[str, Any]:
    """Document HEAD beside every GET, and give every operation an operationId."""
    for path, item in paths.items():
        if "get" in item and "head" not in item:
            # Werkzeug answers HEAD on every GET route: the same status and
            # headers, without a body.
            item["head"] = {**fill(item["get"], {}), "summary": "GET without the body."}
        for method in HTTP_METHODS.intersection(item):
            words = [word.strip("{}") for word in re.split(r"[/.-]", path) if word]
            if path != "/" and path.endswith("/") and path.rstrip("/") in paths:
                # "/status/{codes}/" beside "/status/{codes}": the ids must differ.
                words.append("slash")
            item[method]["operationId"] = method + "".join(
                word[:1].upper() + word[1:] for word in words or ["root"]
            )
    return paths


def _bodiless_heads(document: dict[str, Any]) -> None:
    """Describe HEAD answers as GET's status and headers without content: they have no body."""
    shared = document["components"]["responses"]
    for item in document["paths"].values():
        head = item.get("head")
        if head is None:
            continue
        for code, response in head["responses"].items():
            if "$ref" in response:
                response = shared[response["$ref"].rsplit("/", 1)[1]]
            head["responses"][code] = {
                key: value for key, value in response.items() if key != "content"
            }


def build_document(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI document of `app`, the root app, filled in from its settings."""
    # fill() copies every node, so operations that share one YAML anchor get ids of their own.
    document: dict[str, Any] = fill(
        yaml.safe_load(SOURCE.read_text(encoding="utf-8")), values_of(app)
    )
    _add_too_large(document["paths"])
    _add_head_and_ids(document["paths"])
    _bodiless_heads(document)
    inline_path_parameters(document)
    return document


def document(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI document of `app`, built once."""
    return _cache(app)[0]


def _cache(app: Flask) -> tuple[dict[str, Any], bytes, str]:
    """Return the document of `app`, its JSON encoding and that encoding's ETag."""
    cached = app.extensions.get(_EXTENSION)
    if cached is None:
        body = build_document(app)
        encoded = json.dumps(body, ensure_ascii=False).encode()
        cached = app.extensions[_EXTENSION] = (body, encoded, etag_of(encoded))
    return cached


def etag_of(data: bytes) -> str:
    """Return a strong ETag value for `data`."""
    return hashlib.sha256(data).hexdigest()[:32]


def cached_response(data: bytes, mimetype: str, etag: str) -> Response:
    """Answer `data`, or 304 when the request's If-None-Match names `etag`."""
    response = Response(data, mimetype=mimetype)
    response.set_etag(etag)
    # Clients may keep a copy but must ask again, with If-None-Match, before using it.
    response.cache_control.no_cache = True
    # make_conditional() changes the response in place.
    response.make_conditional(request)
    return response


def _openapi_view() -> Response:
    _, encoded, etag = _cache(current_app)
    return cached_response(encoded, "application/json", etag)


def register_openapi(app: Flask) -> None:
    """Serve the OpenAPI document of `app` at /openapi.json."""
    app.add_url_rule("/openapi.json", "openapi", _openapi_view)
