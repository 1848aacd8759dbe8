"""A greeting Blueprint to mount in any Flask app.

from simple_flask_blueprint import make_blueprint
app.register_blueprint(make_blueprint(name="hi"), url_prefix="/hi")
"""

__all__ = ["bp", "make_blueprint"]


def __getattr__(attribute: str):
    # Flask is imported on first use only, so that `simple_flask_blueprint.core`
    # stays importable without it.
    if attribute == "make_blueprint":
        from .rest import make_blueprint

        return make_blueprint
    if attribute == "bp":
        from .rest import make_blueprint

        globals()["bp"] = make_blueprint()
        return globals()["bp"]
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
