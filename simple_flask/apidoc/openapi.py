"""The OpenAPI 3.1 description of the root app, served at /openapi.json.

The document is written here by hand, beside the limits it quotes from the
code; a test compares its paths and methods with the app's url_map both ways,
so a route cannot change without its description.
"""

import copy
import hashlib
import json

from flask import Flask, Response, current_app, request

from simple_flask_blueprint.core import MAX_NAME_LENGTH, MIN_NAME_LENGTH

from .. import __version__
from ..core.settings import Settings
from ..core.status_codes import MAX_ENTRIES, MAX_LOCATION_LENGTH, MAX_SEED_DIGITS
from ..core.status_headers import METHODS as STATUS_METHODS

OPENAPI_VERSION = "3.1.1"
# The keys of a path item that are operations; the others describe the path.
HTTP_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options", "trace"})
PROBLEM = "application/problem+json"
_EXTENSION = "simple_flask.openapi"
# One entry of a list of codes as the status route reads it: a code from 200 to
# 599 and an optional decimal weight; a list holds 1 to MAX_ENTRIES of them.
_ENTRY = r"[2-5][0-9]{2}(:([0-9]+(\.[0-9]*)?|\.[0-9]+))?"
CODES_PATTERN = f"^{_ENTRY}(,{_ENTRY}){{0,{MAX_ENTRIES - 1}}}$"
# What Werkzeug's path converter matches after "/status/<codes>/": a first
# character other than a slash, then no line break.
REST_PATTERN = r"^[^/][^\n]*$"
# A path on this host: one slash, then no backslash or control character.
LOCATION_PATTERN = r"^/([^/\\\x00-\x1f\x7f][^\\\x00-\x1f\x7f]*)?$"

TAGS = [
    {"name": "greetings", "description": "The root service's greetings."},
    {
        "name": "blueprint",
        "description": "The mountable greeting blueprint, mounted at /blueprint.",
    },
    {
        "name": "status codes",
        "description": "Any HTTP status code on demand, to test clients with.",
    },
    {"name": "service", "description": "Health, and the description of this API."},
]


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _header(description: str, schema: dict | None = None) -> dict:
    """A header the response it is listed in always carries."""
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


def _problem(description: str, headers: dict | None = None) -> dict:
    """A response whose body is an RFC 9457 problem+json document."""
    response = {
        "description": description,
        "content": {PROBLEM: {"schema": _ref("schemas", "Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _negotiated(description: str, text_schema: dict, json_schema: dict) -> dict:
    """A response answered as text/plain, or as JSON when Accept prefers it."""
    return {
        "description": description,
        "content": {
            "text/plain": {"schema": text_schema},
            "application/json": {"schema": json_schema},
        },
    }


def _cached(description: str, media_type: str, schema: dict) -> dict:
    """The answers of a route whose body changes only with a release or the settings."""
    etag = {"ETag": _ref("headers", "ETag")}
    return {
        "200": {
            "description": description,
            "headers": etag,
            "content": {media_type: {"schema": schema}},
        },
        "304": {
            "description": "Not modified: If-None-Match named the current ETag.",
            "headers": etag,
        },
    }


def _name_parameter(reserved: tuple[str, ...]) -> dict:
    """The name path parameter of a greeting route; `reserved` names belong to other routes."""
    schema = {
        "type": "string",
        "minLength": MIN_NAME_LENGTH,
        "maxLength": MAX_NAME_LENGTH,
        # %2F is decoded before routing: a slash would split the name.
        "pattern": "^[^/]+$",
    }
    description = (
        f"Who to greet: {MIN_NAME_LENGTH} to {MAX_NAME_LENGTH} printable characters after URL"
        " decoding, without a slash; spaces are allowed, control and format characters are not."
    )
    if reserved:
        schema["not"] = {"enum": list(reserved)}
        description += " " + ", ".join(f"`{name}`" for name in reserved) + " lead to other routes."
    return {
        "name": "name",
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "example": "Kalimaha",
    }


def _components(settings: Settings, reserved_names: tuple[str, ...]) -> dict:
    return {
        "schemas": {
            "Problem": {
                "type": "object",
                "description": "An RFC 9457 problem details document.",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "const": "about:blank"},
                    "title": {"type": "string", "description": "The status code's reason phrase."},
                    "status": {"type": "integer", "minimum": 100, "maximum": 599},
                    "detail": {"type": "string", "description": "What went wrong, in one line."},
                },
            },
            "Greeting": {
                "type": "object",
                "required": ["message"],
                "additionalProperties": False,
                "properties": {"message": {"type": "string"}},
            },
            "StatusLine": {
                "type": "string",
                "description": "The code and its reason phrase, such as `418 I'm a Teapot`.",
                "pattern": "^[2-5][0-9]{2} .+$",
            },
            "StatusDescription": {
                "type": "object",
                "required": ["code", "description"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "integer", "minimum": 200, "maximum": 599},
                    "description": {
                        "type": "string",
                        "description": "The reason phrase, or `Unknown Status Code`.",
                    },
                },
            },
            "Redirecting": {"type": "string", "pattern": "^Redirecting to .+$"},
            "Health": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"const": "ok"}},
            },
        },
        "parameters": {
            "Name": _name_parameter(reserved_names),
            "BlueprintName": _name_parameter(()),
            **_status_parameters(settings),
        },
        "headers": {
            "Allow": _header("The methods the path answers."),
            "Location": _header("Where the redirect points: a path on this host."),
            "Retry-After": _header(
                "Seconds to wait before trying again.", {"type": "integer", "minimum": 0}
            ),
            "WWW-Authenticate": _header("The challenge: Basic, realm simple_flask."),
            "Content-Range": _header("The byte range the body holds."),
            "ETag": _header("Changes whenever the body does."),
        },
        "responses": {
            "BadName": _problem("The name breaks the name rule; `detail` says how."),
            "NotFound": _problem(
                "No route matches, as for a name holding a slash (%2F decodes to one)."
            ),
            "SlashRedirect": {
                "description": (
                    "The path held doubled slashes: a redirect to the path with them merged."
                ),
                "headers": {"Location": _ref("headers", "Location")},
                "content": {"text/plain": {"schema": _ref("schemas", "Redirecting")}},
            },
            **{"Status" + status: answer for status, answer in _status_responses().items()},
        },
    }


def _greeting(tag: str, summary: str, text: str, pattern: str, name: str | None) -> dict:
    """The path item of one greeting route, with the `name` parameter component if any."""
    responses = {
        "200": _negotiated(
            "The greeting.",
            {"type": "string", "pattern": pattern},
            {
                "allOf": [
                    _ref("schemas", "Greeting"),
                    {"properties": {"message": {"pattern": pattern}}},
                ]
            },
        )
    }
    item = {
        "summary": summary,
        "description": (
            f'Answers `{text}` as text/plain, or `{{"message": "{text}"}}` when the'
            " Accept header prefers application/json."
        ),
        "get": {"tags": [tag], "responses": responses},
    }
    if name:
        item["parameters"] = [_ref("parameters", name)]
        responses["308"] = _ref("responses", "SlashRedirect")
        responses["400"] = _ref("responses", "BadName")
        responses["404"] = _ref("responses", "NotFound")
    return item


def _greeting_paths() -> dict:
    return {
        "/": _greeting(
            "greetings",
            "Greet the world.",
            "Hallo from CORE!",
            "^Hallo from CORE!$",
            name=None,
        ),
        "/{name}/": _greeting(
            "greetings",
            "Greet someone by name.",
            "Hallo <name> from CORE!",
            "^Hallo .+ from CORE!$",
            name="Name",
        ),
        "/blueprint/": _greeting(
            "blueprint",
            "Greet the world from the blueprint.",
            "Hallo!",
            "^Hallo!$",
            name=None,
        ),
        "/blueprint/{name}/": _greeting(
            "blueprint",
            "Greet someone by name from the blueprint.",
            "Hallo <name>!",
            "^Hallo .+!$",
            name="BlueprintName",
        ),
    }


def _status_answer(description: str, headers: tuple[str, ...] = (), problem: str = "") -> dict:
    """An answer of the status route: the code asked for, as text or JSON.

    `headers` are the headers that code always carries; `problem` tells when
    the same code comes as problem+json instead, for a request that broke a rule.
    """
    response = _negotiated(
        description, _ref("schemas", "StatusLine"), _ref("schemas", "StatusDescription")
    )
    if problem:
        response["description"] += " " + problem
        response["content"][PROBLEM] = {"schema": _ref("schemas", "Problem")}
    if headers:
        response["headers"] = {name: _ref("headers", name) for name in headers}
    return response


def _status_responses() -> dict:
    """Every answer of the status route, by status code or range; the most specific one applies."""
    empty = "The code asked for, with no body and no Content-Type: RFC 9110 forbids content."
    return {
        "2XX": _status_answer("The code asked for."),
        "204": {"description": empty},
        "205": {"description": empty},
        "206": _status_answer(
            "The code asked for; Content-Range says the body is the whole resource.",
            ("Content-Range",),
        ),
        "3XX": _status_answer(
            "The code asked for, redirecting to `location` (by default /status/200).",
            ("Location",),
        ),
        "304": {"description": empty},
        "308": {
            "description": (
                "The code asked for; or, in plain text, a redirect to the same path with"
                " doubled slashes merged."
            ),
            "headers": {"Location": _ref("headers", "Location")},
            "content": {
                "text/plain": {
                    "schema": {
                        "anyOf": [_ref("schemas", "StatusLine"), _ref("schemas", "Redirecting")]
                    }
                },
                "application/json": {"schema": _ref("schemas", "StatusDescription")},
            },
        },
        "400": _status_answer(
            "The code asked for.",
            problem=(
                "Or the request broke a rule (a bad code, weight, seed, sleep or location):"
                " problem+json whose `detail` says which."
            ),
        ),
        "401": _status_answer("The code asked for, with a Basic challenge.", ("WWW-Authenticate",)),
        "404": _status_answer(
            "The code asked for.",
            problem=("Or no route matched, as for a `rest` holding a line break: problem+json."),
        ),
        "405": _status_answer("The code asked for; Allow lists the other methods.", ("Allow",)),
        "416": _status_answer(
            "The code asked for; Content-Range says the resource is empty.", ("Content-Range",)
        ),
        "429": _status_answer("The code asked for, with Retry-After.", ("Retry-After",)),
        "4XX": _status_answer("The code asked for."),
        "503": _status_answer(
            "The code asked for, with Retry-After.",
            ("Retry-After",),
            problem=(
                "Or too many requests are sleeping at once: problem+json, and Retry-After"
                " says when a sleep slot frees."
            ),
        ),
        "5XX": _status_answer("The code asked for."),
    }


def _status_parameters(settings: Settings) -> dict:
    """The parameters of the status route, by component name."""
    max_seed = 10**MAX_SEED_DIGITS - 1
    return {
        "Codes": {
            "name": "codes",
            "in": "path",
            "required": True,
            "description": (
                "The code to answer, from 200 to 599; or a comma-separated list to choose one"
                " from at random, each code optionally weighted: `200,500`,"
                f" `200:0.9,500:0.1`. At most {MAX_ENTRIES} entries, whose weights add up to"
                " more than 0."
            ),
            "schema": {"type": "string", "pattern": CODES_PATTERN},
            "example": "418",
        },
        "Rest": {
            "name": "rest",
            "in": "path",
            "required": True,
            "description": (
                "Any path, slashes included but not first; ignored, so a client can use a"
                " real-looking URL. Routing stops at a line break after the first character."
            ),
            "schema": {"type": "string", "pattern": REST_PATTERN},
            "example": "orders/42",
        },
        "Seed": {
            "name": "seed",
            "in": "query",
            "description": "Makes the random choice repeatable: the same seed, the same code.",
            "schema": {"type": "integer", "minimum": -max_seed, "maximum": max_seed},
        },
        "Sleep": {
            "name": "sleep",
            "in": "query",
            "description": (
                "Milliseconds to wait before answering. Only a few requests sleep at once;"
                " one more is answered 503 at once."
            ),
            "schema": {"type": "integer", "minimum": 0, "maximum": settings.max_sleep_ms},
        },
        "Location": {
            "name": "location",
            "in": "query",
            "description": "Where a 3xx answer redirects to: a path on this host.",
            "schema": {
                "type": "string",
                "maxLength": MAX_LOCATION_LENGTH,
                "pattern": LOCATION_PATTERN,
            },
            "example": "/Kalimaha/",
        },
    }


def _status_paths() -> dict:
    def answer(summary: str, parameters: list[str]) -> dict:
        item = {
            "summary": summary,
            "description": (
                "Answers `<code> <reason phrase>` as text/plain, or"
                ' `{"code": ..., "description": ...}` when Accept prefers JSON, with the'
                " headers the code needs and Cache-Control: no-store. Every method answers"
                " alike; a CORS preflight (OPTIONS with Origin and"
                " Access-Control-Request-Method) gets an empty 204 instead."
            ),
            "parameters": [_ref("parameters", name) for name in parameters],
        }
        for method in STATUS_METHODS:
            item[method.lower()] = {
                "tags": ["status codes"],
                "responses": {
                    status: _ref("responses", "Status" + status) for status in _status_responses()
                },
            }
        return item

    query = ["Seed", "Sleep", "Location"]
    return {
        "/status/": {
            "summary": "List every registered status code the service answers.",
            "description": 'A JSON array of `{"code", "description"}`, ordered by code.',
            "get": {
                "tags": ["status codes"],
                "responses": {
                    "200": {
                        "description": "The catalogue.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": _ref("schemas", "StatusDescription"),
                                }
                            }
                        },
                    }
                },
            },
        },
        "/status/{codes}": answer("Answer with the status code asked for.", ["Codes", *query]),
        "/status/{codes}/": answer(
            "Answer with the status code asked for, at a base URL ending in a slash.",
            ["Codes", *query],
        ),
        "/status/{codes}/{rest}": answer(
            "Answer with the status code asked for, under any path.", ["Codes", "Rest", *query]
        ),
    }


def _service_paths() -> dict:
    return {
        "/healthz": {
            "summary": "Tell a load balancer or orchestrator that the process serves.",
            "get": {
                "tags": ["service"],
                "responses": {
                    "200": {
                        "description": "The process serves requests.",
                        "content": {"application/json": {"schema": _ref("schemas", "Health")}},
                    }
                },
            },
        },
        "/openapi.json": {
            "summary": "This description of the API, as an OpenAPI 3.1 document.",
            "get": {
                "tags": ["service"],
                "responses": _cached(
                    "The OpenAPI document.",
                    "application/json",
                    {
                        "type": "object",
                        "required": ["openapi", "info", "paths"],
                        "properties": {
                            "openapi": {"type": "string", "pattern": "^3\\.1\\."},
                            "info": {"type": "object"},
                            "paths": {"type": "object"},
                        },
                    },
                ),
            },
        },
        "/docs": {
            "summary": "A page of every route, with a sample request to click.",
            "description": "Rendered from the OpenAPI document; loads nothing from elsewhere.",
            "get": {
                "tags": ["service"],
                "responses": _cached("The HTML page.", "text/html", {"type": "string"}),
            },
        },
    }


def _add_head_and_ids(paths: dict) -> dict:
    """Document HEAD beside every GET, and give every operation an operationId."""
    for path, item in paths.items():
        if "get" in item and "head" not in item:
            # Werkzeug answers HEAD on every GET route: the same status and
            # headers, without a body.
            item["head"] = {**copy.deepcopy(item["get"]), "summary": "GET without the body."}
        for method in HTTP_METHODS.intersection(item):
            words = [word.strip("{}") for word in path.replace(".", "/").split("/") if word]
            if path != "/" and path.endswith("/") and path.rstrip("/") in paths:
                # "/status/{codes}/" beside "/status/{codes}": the ids must differ.
                words.append("slash")
            item[method]["operationId"] = method + "".join(
                word[:1].upper() + word[1:] for word in words or ["root"]
            )
    return paths


def reserved_names(app: Flask) -> tuple[str, ...]:
    """Return the names "/<name>/" cannot greet: first path segments of other routes' paths."""
    names = set()
    for rule in app.url_map.iter_rules():
        first, slash, _ = rule.rule.lstrip("/").partition("/")
        if slash and "<" not in first:
            names.add(first)
    return tuple(sorted(names))


def build_document(app: Flask) -> dict:
    """Return the OpenAPI document of `app`, the root app, from its settings and url_map."""
    settings = app.config["SETTINGS"]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "simple_flask",
            "version": __version__,
            "summary": "Greetings, a mountable greeting blueprint and HTTP status codes on demand.",
            "description": (
                "Errors are RFC 9457 problem+json documents: a bad name or parameter gets 400,"
                " an unknown path 404, a method the path does not answer 405 with Allow."
                " Every route also answers OPTIONS, and CORS preflights."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": TAGS,
        "paths": _add_head_and_ids({**_greeting_paths(), **_status_paths(), **_service_paths()}),
        "components": _components(settings, reserved_names(app)),
    }


def document(app: Flask) -> dict:
    """Return the OpenAPI document of `app`, built once from its settings."""
    return _cache(app)[0]


def _cache(app: Flask) -> tuple[dict, bytes, str]:
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
    return response.make_conditional(request)


def _openapi_view() -> Response:
    _, encoded, etag = _cache(current_app)
    return cached_response(encoded, "application/json", etag)


def register_openapi(app: Flask) -> None:
    """Serve the OpenAPI document of `app` at /openapi.json."""
    app.add_url_rule("/openapi.json", "openapi", _openapi_view)
