"""Local references of the OpenAPI document, followed; and the paths' parameters, inlined.

openapi.yaml names each shared parameter once, under components/parameters,
and refers to it from every path that takes it; a parameter's schema may
refer to one of components/schemas in turn. The served document carries a
whole copy of each parameter where it is used instead, with no `$ref` left
in it: Swagger UI 5 (the /docs page) leaves a path item's `parameters`
entries that are `$ref`s of an OpenAPI 3.1 document unresolved, and shows
each as a nameless parameter of any type that "Try it out" cannot send; and
it shows a parameter whose schema is a `$ref` as of any type.

Swagger UI also shows a schema whose `not` has no type of its own (`not:
{enum: [...]}`, the values a string may not take) as of type "never". In the
copies, such a `not` gets the schema's own type, which excludes the same
values. The components stay as written, so that a reader of the document, or
a test, still finds each parameter and schema by its name.
"""

from typing import Any

from simple_flask_blueprint.core.http_facts import METHODS

# The keys of a path item that are operations, whose own parameters are inlined too.
_OPERATIONS = frozenset({method.lower() for method in METHODS} | {"trace"})


def resolve_ref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref ("#/components/...") of the document, if `node` is one."""
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def inlined(spec: dict[str, Any], node: Any) -> Any:
    """Return a copy of `node` with every local $ref in it replaced by a copy of its target."""
    if isinstance(node, dict):
        return {key: inlined(spec, value) for key, value in resolve_ref(spec, node).items()}
    if isinstance(node, list):
        return [inlined(spec, item) for item in node]
    return node


def _typed_not(schema: dict[str, Any]) -> None:
    """Give the `not` of `schema` the schema's type, where it has none (the same values)."""
    excluded = schema.get("not")
    if isinstance(excluded, dict) and "type" in schema and "type" not in excluded:
        schema["not"] = {"type": schema["type"], **excluded}


def inline_path_parameters(document: dict[str, Any]) -> None:
    """Replace each parameter of the paths and their operations with a whole copy, typed."""
    for item in document["paths"].values():
        holders = [item, *(item[key] for key in _OPERATIONS.intersection(item))]
        for holder in holders:
            if "parameters" not in holder:
                continue
            # A copy each, so that nothing done to one path's parameter reaches another's.
            holder["parameters"] = [inlined(document, p) for p in holder["parameters"]]
            for parameter in holder["parameters"]:
                if isinstance(parameter.get("schema"), dict):
                    _typed_not(parameter["schema"])
