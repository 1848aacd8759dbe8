"""simple_flask: a modular Flask REST service of greetings and HTTP status codes.

The public names: `create_app` (the app factory), `make_status_blueprint` (the
status-code Blueprint, to mount in any Flask app) and `__version__`. Settings
live in `simple_flask.core.settings.Settings`. The package ships py.typed.
"""

from typing import TYPE_CHECKING

from .core.version import __version__

__all__ = ["__version__", "create_app", "make_status_blueprint"]

if TYPE_CHECKING:
    # Type checkers read the real names here. At run time they come from
    # __getattr__ below, on first use, so that `simple_flask.core` and the
    # command line stay light to import (no Flask).
    from .rest.app import create_app as create_app
    from .rest.status import make_status_blueprint as make_status_blueprint
else:
    # Hidden from type checkers: with a module __getattr__ in view they would
    # accept any misspelt name.
    def __getattr__(attribute: str) -> object:
        if attribute == "create_app":
            from .rest.app import create_app

            return create_app
        if attribute == "make_status_blueprint":
            from .rest.status import make_status_blueprint

            return make_status_blueprint
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
