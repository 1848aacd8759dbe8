"""The house: every import between the package's folders points down, none runs back up.

Read from the source with `ast`, so that an import inside a function counts
as much as one at the top. The order is README.md's: server uses rest, which
uses apidoc, wsgi, state and core; testing stands apart, using nothing of the
service's code but its settings' names.
"""

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "simple_flask"
# Each folder, with the folders it may import from (itself always allowed).
MAY_IMPORT = {
    "core": set(),
    "state": {"core"},
    "wsgi": {"core"},
    "apidoc": {"core"},
    "rest": {"core", "state", "wsgi", "apidoc"},
    "server": {"core", "state", "wsgi", "apidoc", "rest"},
    "testing": set(),
}
# The one module of the Flask layer that takes the greeting blueprint's Flask
# side, and the factory that mounts the blueprint.
BLUEPRINT_FLASK_SIDE = {
    "rest/responses.py": {
        "simple_flask_blueprint.rest.ready",
        "simple_flask_blueprint.rest.responses",
    },
    "rest/app.py": {"simple_flask_blueprint"},
}


def imports(path: Path) -> set[str]:
    """Return the absolute names of the modules `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            else:
                found.add(node.module or "")
    return found


MODULES = sorted(
    path
    for path in PACKAGE.rglob("*.py")
    if path.parent != PACKAGE and "__pycache__" not in path.parts
)


def folder_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "simple_flask" and len(parts) > 1 else None


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = path.relative_to(PACKAGE).parts[0]
    upward = {
        module
        for module in imports(path)
        if module.split(".")[0] == "simple_flask"
        and (folder_of(module) or "") not in MAY_IMPORT[own] | {own}
    }
    assert upward == set(), f"{own}/ may import only {sorted(MAY_IMPORT[own])}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_the_blueprint_is_imported_for_its_core_and_through_one_module(path):
    name = str(path.relative_to(PACKAGE))
    allowed = BLUEPRINT_FLASK_SIDE.get(name, set())
    crossing = {
        module
        for module in imports(path)
        if module.startswith("simple_flask_blueprint")
        and not module.startswith("simple_flask_blueprint.core")
    }
    assert crossing <= allowed


def test_the_package_top_imports_only_its_version():
    assert {m for m in imports(PACKAGE / "__init__.py") if m.startswith("simple_flask")} >= {
        "simple_flask.core.version"
    }


def test_the_table_knows_every_folder():
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert folders == set(MAY_IMPORT)
