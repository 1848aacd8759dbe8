"""simple_flask: a modular Flask REST service of greetings and HTTP status codes."""

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]


def __getattr__(attribute: str):
    # The app factory (and Flask with it) is imported on first use, so that
    # `simple_flask.core` and the command line stay light to import.
    if attribute == "create_app":
        from .rest import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
