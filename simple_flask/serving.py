"""Serve the app with waitress, configured from Settings."""

import sys

from .settings import Settings, SettingsError


def waitress_options(settings: Settings) -> dict[str, object]:
    """Translate Settings into waitress's keyword arguments."""
    return {
        "host": settings.host,
        "port": settings.port,
        "threads": settings.threads,
        "connection_limit": settings.connection_limit,
        "channel_timeout": settings.idle_timeout,
        "max_request_body_size": settings.max_request_body,
        # No version in the Server header.
        "ident": "simple_flask",
        # select() stops at 1024 descriptors; poll() has no such ceiling.
        "asyncore_use_poll": True,
    }


def serve(settings: Settings) -> int:
    """Build the app and serve it until the process is told to stop; return the exit status."""
    import waitress

    from .rest import create_app

    app = create_app({"SETTINGS": settings})
    waitress.serve(app, **waitress_options(settings))
    return 0


def load_settings_or_exit(**overrides) -> Settings:
    """Read Settings from the environment, or exit with status 2 and one line on stderr."""
    try:
        return Settings.from_env(**overrides)
    except SettingsError as error:
        print(f"simple-flask: {error}", file=sys.stderr)
        raise SystemExit(2) from None
