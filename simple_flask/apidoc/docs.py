"""The /docs page: Swagger UI, from the flask-swagger-ui package, showing /openapi.json.

The page is a fixed HTML file of this package (page/docs.html); Swagger UI's
script and style sheet are the copies flask-swagger-ui ships, served by this
app at /docs.js and /docs.css, and the lines that start Swagger UI on the
page are a file too, /docs-init.js. Every URL the page uses is relative, so
it works under a mount prefix. The package's blueprint is not used: its page
starts Swagger UI from an inline script, which the page's
Content-Security-Policy could then not forbid, and its catch-all route would
put paths under /docs/ that the OpenAPI document does not list.

Nothing comes from another origin: the files are served here, Swagger UI
reads the document and sends "Try it out" requests to this origin, and its
online validator is turned off (docs-init.js). The policy says so to the
browser: scripts, style sheets and requests from this origin alone, images
only as data: URLs (Swagger UI's style sheet draws its icons with them, and
the page's icon is an empty one), no inline script or style, no eval.
"""

import functools
import importlib.util
from pathlib import Path

from flask import Flask, Response, current_app

from ..core.version import __version__
from .openapi import cached_response, etag_of

# The OpenAPI tests import resolve_ref from here.
from .refs import resolve_ref

__all__ = ["POLICY", "SERVICE_LINKS", "files", "register_docs", "resolve_ref"]

PAGE_FOLDER = Path(__file__).with_name("page")
_EXTENSION = "simple_flask.docs"
POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# The Link header of GET /: where the API's description and its page are (RFC 8631).
SERVICE_LINKS = ("Link", '</openapi.json>; rel="service-desc", </docs>; rel="service-doc"')
# The package flask-swagger-ui, and its copy of Swagger UI's distribution.
UI_PACKAGE = "flask_swagger_ui"
UI_FOLDER = "dist"


def ui_folder() -> Path:
    """Return the folder of Swagger UI's files in flask-swagger-ui, without importing it.

    Its code is not needed, only its files; find_spec() does not run it.
    """
    spec = importlib.util.find_spec(UI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"/docs needs the package {UI_PACKAGE} (flask-swagger-ui)")
    return Path(next(iter(spec.submodule_search_locations))) / UI_FOLDER


def files() -> dict[str, tuple[Path, str]]:
    """Return each URL path the page needs, with the file it serves and that file's type."""
    ui = ui_folder()
    return {
        "/docs": (PAGE_FOLDER / "docs.html", "text/html"),
        "/docs.js": (ui / "swagger-ui-bundle.js", "text/javascript"),
        "/docs.css": (ui / "swagger-ui.css", "text/css"),
        "/docs-init.js": (PAGE_FOLDER / "docs-init.js", "text/javascript"),
    }


def _content(path: Path) -> bytes:
    """Return the bytes to serve for `path`; the page's title is given the version."""
    data = path.read_bytes()
    if path.suffix == ".html":
        # The version is digits and dots, nothing HTML would read as markup.
        data = data.replace(b"${VERSION}", __version__.encode("ascii"))
    return data


def _file_view(url: str, path: Path, mimetype: str) -> Response:
    """Answer the file `path` served at `url`, read once per app, with its ETag."""
    cached: dict[str, tuple[bytes, str]] = current_app.extensions.setdefault(_EXTENSION, {})
    if url not in cached:
        data = _content(path)
        cached[url] = (data, etag_of(data))
    data, etag = cached[url]
    response = cached_response(data, mimetype, etag)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def register_docs(app: Flask) -> None:
    """Serve the docs page of `app` at /docs, and the files it loads beside it."""
    for url, (path, mimetype) in files().items():
        # "docs", "docs_js", ...: a dot in an endpoint would read as a blueprint's name.
        endpoint = url.strip("/").replace(".", "_").replace("-", "_")
        # Read at the first request, not here: most apps built never serve /docs.
        app.add_url_rule(url, endpoint, functools.partial(_file_view, url, path, mimetype))
