"""A greeting Blueprint to mount in any Flask app.

from simple_flask_blueprint import make_blueprint
app.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")

`bp` is a ready instance with the default name. Both names are typed (the
package ships py.typed); the supported Flask range is in docs/blueprints.md.
"""

from typing import TYPE_CHECKING

__all__ = ["bp", "make_blueprint"]

if TYPE_CHECKING:
    # Type checkers read the real names here. At run time they come from
    # __getattr__ below, on first use, so that `simple_flask_blueprint.core`
    # stays importable without Flask.
    from flask import Blueprint

    from .rest import make_blueprint as make_blueprint

    bp: Blueprint
else:
    # Hidden from type checkers: with a module __getattr__ in view they would
    # accept any misspelt name.
    def __getattr__(attribute: str) -> object:
        if attribute == "make_blueprint":
            from .rest import make_blueprint

            return make_blueprint
        if attribute == "bp":
            from .rest import make_blueprint

            globals()["bp"] = make_blueprint()
            return globals()["bp"]
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
