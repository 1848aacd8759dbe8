"""The /docs page: every route of the OpenAPI document, with a sample request to click.

The page is rendered on the server from the same document /openapi.json
serves, with every value escaped. It loads nothing: no script, font or image,
and its one style sheet is inline, allowed by its hash in the
Content-Security-Policy.
"""

import base64
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from .openapi import cached_response, document, etag_of

TEMPLATES = Path(__file__).parent / "templates"
_EXTENSION = "simple_flask.docs"
# Methods in the order a reader expects them.
_METHOD_ORDER = ("get", "head", "post", "put", "patch", "delete", "options")


@dataclass
class Parameter:
    """One parameter of a route, as the page shows it."""

    name: str
    where: str
    required: bool
    description: str
    schema: str


@dataclass
class Answer:
    """One documented response of a route: its status (or range) and media types."""

    status: str
    description: str
    media_types: list[str]


@dataclass
class Route:
    """One path of the document, as the page shows it."""

    path: str
    anchor: str
    methods: list[str]
    summary: str
    description: str
    parameters: list[Parameter] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    # The sample request: the path shown, and the link relative to /docs.
    sample: str | None = None
    sample_href: str | None = None


def resolve_ref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref ("#/components/...") of the document, if `node` is one."""
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _range(low: object, high: object, unit: str = "") -> str | None:
    """Say in words what a minimum and a maximum allow, either of which may be None."""
    if low is not None and high is not None:
        text, last = f"{low} to {high}", high
    elif low is not None:
        text, last = f"at least {low}", low
    elif high is not None:
        text, last = f"at most {high}", high
    else:
        return None
    if unit:
        text += f" {unit}" if last == 1 else f" {unit}s"
    return text


def _schema_text(schema: dict[str, Any]) -> str:
    """Summarise a parameter schema in a few words: its type and limits."""
    words = [
        str(schema.get("type", "any")),
        _range(schema.get("minimum"), schema.get("maximum")),
        _range(schema.get("minLength"), schema.get("maxLength"), "character"),
    ]
    return ", ".join(word for word in words if word)


def inline_code(text: str) -> Markup:
    """Escape `text`, showing its `backquoted` spans (CommonMark code spans) as <code>."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:
        # An unmatched backquote: show the text as it is.
        return escape(text)
    return Markup("").join(
        Markup("<code>%s</code>") % part if odd else escape(part)
        for odd, part in zip(itertools.cycle((False, True)), parts)
    )


def _sample(path: str, parameters: list[dict[str, Any]]) -> tuple[str, str] | None:
    """Return `path` with each path parameter's example, and its link from /docs.

    None when a path parameter has no example.
    """
    examples = {p["name"]: str(p["example"]) for p in parameters if "example" in p}
    # The template split at its {placeholders}: text, name, text, name, ..., text.
    pieces = re.split(r"\{([^{}]*)\}", path)
    shown, link = [], []
    for index, piece in enumerate(pieces):
        if index % 2:
            if piece not in examples:
                return None
            piece = examples[piece]
        shown.append(piece)
        link.append(quote(piece, safe="/"))
    # Relative to /docs, so the links still work when the app is mounted under a prefix.
    return "".join(shown), "./" + "".join(link).lstrip("/")


def _route(spec: dict[str, Any], path: str, item: dict[str, Any]) -> Route:
    """Describe the path item `item` of `spec` for the page."""
    methods = [method for method in _METHOD_ORDER if method in item]
    # Summary, description and parameters are the path's; the first operation
    # (GET where there is one) may add its own.
    main = item[methods[0]]
    parameters = [
        resolve_ref(spec, parameter)
        for parameter in item.get("parameters", []) + main.get("parameters", [])
    ]
    route = Route(
        path=path,
        anchor="route-" + (quote(path.strip("/"), safe="") or "root").replace("%", "_"),
        methods=[method.upper() for method in methods],
        summary=main.get("summary", item.get("summary", "")),
        description=main.get("description", item.get("description", "")),
        parameters=[
            Parameter(
                name=parameter["name"],
                where=parameter["in"],
                required=parameter.get("required", False),
                description=parameter.get("description", ""),
                schema=_schema_text(parameter.get("schema", {})),
            )
            for parameter in parameters
        ],
        answers=[
            Answer(
                status=status,
                description=resolve_ref(spec, response).get("description", ""),
                media_types=list(resolve_ref(spec, response).get("content", {})),
            )
            for status, response in main.get("responses", {}).items()
        ],
    )
    # A sample link for a GET that answers 2xx; a redirect's would only lead on.
    if "get" in item and any(str(code).startswith("2") for code in item["get"]["responses"]):
        sample = _sample(path, parameters)
        if sample is not None:
            route.sample, route.sample_href = sample
    return route


def _sections(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Group the routes of `spec` by their first tag, in the order the tags are listed."""
    sections = {
        tag["name"]: {"name": tag["name"], "description": tag.get("description", ""), "routes": []}
        for tag in spec.get("tags", [])
    }
    for path, item in spec["paths"].items():
        route = _route(spec, path, item)
        first = next(item[method] for method in _METHOD_ORDER if method in item)
        tag = first.get("tags", ["other"])[0]
        sections.setdefault(tag, {"name": tag, "description": "", "routes": []})
        sections[tag]["routes"].append(route)
    return [section for section in sections.values() if section["routes"]]


def style_hash(css: str) -> str:
    """Return the CSP source expression that allows exactly the inline style `css`."""
    digest = hashlib.sha256(css.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def render(spec: dict[str, Any]) -> tuple[bytes, str]:
    """Render the docs page of `spec`; return it and the Content-Security-Policy it needs."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    environment.filters["code"] = inline_code
    css = (TEMPLATES / "docs.css").read_text(encoding="utf-8")
    page = environment.get_template("docs.html").render(
        info=spec["info"],
        openapi=spec["openapi"],
        sections=_sections(spec),
        # Trusted: a file of this package, and the CSP below allows only its hash.
        css=Markup(css),  # noqa: S704
    )
    policy = "; ".join(
        [
            "default-src 'none'",
            f"style-src {style_hash(css)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page.encode(), policy


def _docs_view() -> Response:
    cached = current_app.extensions.get(_EXTENSION)
    if cached is None:
        page, policy = render(document(current_app))
        cached = current_app.extensions[_EXTENSION] = (page, policy, etag_of(page))
    page, policy, etag = cached
    response = cached_response(page, "text/html", etag)
    response.headers["Content-Security-Policy"] = policy
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def register_docs(app: Flask) -> None:
    """Serve the docs page of `app` at /docs."""
    app.add_url_rule("/docs", "docs", _docs_view)
