"""WSGI environs for the start-up proofs of the Flask side (cors_memo, finishing, service_flask).

Built by hand rather than by Werkzeug's EnvironBuilder, which costs about ten
times as much: the proofs run while the app is built, before its first request.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def probe_environ(
    method: str = "GET", path: str = "/", headers: dict[str, str] | None = None
) -> WSGIEnvironment:
    """Return the environ of a request with no body, as a WSGI server would make it."""
    path_info, _, query = path.partition("?")
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ
