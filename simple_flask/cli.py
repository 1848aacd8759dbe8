"""The `simple-flask` command line."""

import click

from . import __version__
from .serving import load_settings_or_exit, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simple-flask")
def main() -> None:
    """simple_flask: greetings and an HTTP status-code service, served by waitress.

    Settings come from the environment (PORT, HOST, SIMPLE_FLASK_*);
    command-line options override them.
    """


@main.command()
@click.option("--host", default=None, help="Address to listen on.  [default: 127.0.0.1, or $HOST]")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="TCP port to listen on.  [default: 8080, or $PORT]",
)
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the app with waitress until SIGTERM or Ctrl-C."""
    import os

    # Unlike the container's start.py, the command line listens on loopback
    # unless told otherwise.
    if host is None and "HOST" not in os.environ:
        host = "127.0.0.1"
    settings = load_settings_or_exit(host=host, port=port)
    raise SystemExit(serve(settings))


serve_command.name = "serve"
