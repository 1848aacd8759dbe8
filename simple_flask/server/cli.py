"""The `simple-flask` command line: `serve` the app with waitress, `healthcheck` a running one."""

import os
import signal
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TypeVar, cast

import click

from ..core.settings import Settings, SettingsError
from ..core.version import __version__

# What each setting does, for --help; the defaults and allowed values come from Settings.
MEANINGS = {
    "host": "Address to listen on.",
    "port": "TCP port to listen on.",
    "threads": "Worker threads serving requests.",
    "connection_limit": "Client connections at once.",
    "idle_timeout": "Seconds before an idle or stalled connection is closed.",
    "max_request_body": "Largest request body in bytes; larger ones get 413.",
    "log_level": "Level of the application log on stderr.",
    "access_log": "One JSON line per request on stdout.",
    "cors_origins": "Origins allowed to read answers in a browser.",
    "shutdown_grace": "Seconds requests in flight get after SIGTERM/SIGINT.",
    "max_sleep_ms": "Longest sleep or stall of the status service, in ms.",
    "max_answer_size": "Largest body the status service's size option makes, in bytes.",
    "trusted_proxy": "Address of the proxy whose X-Forwarded-* headers count.",
    "state_url": "Where ?sequence= sequences live: this process, or a Redis shared by replicas.",
    "sequence_ttl": "Seconds an unused sequence is kept.",
    "max_sequences": "Sequences kept at most (memory or Redis); the least recently used go first.",
    "state_prefix": "The start of the store's Redis keys, so deployments can share a database.",
}


# Unlike the container's start.py, the command line listens on loopback
# unless told otherwise.
CLI_DEFAULTS = {"host": "127.0.0.1"}


def shown_default(field: str) -> str:
    """Return the default of setting `field` on the command line, as --help shows it."""
    if field in CLI_DEFAULTS:
        return CLI_DEFAULTS[field]
    value = getattr(Settings(), field)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


_Command = TypeVar("_Command", bound=Callable[..., None])


def _with_setting_options(command: _Command) -> _Command:
    """Add one option per setting to `command`, each named after its field."""
    for field, (variable, allowed) in reversed(Settings.variables().items()):
        command = click.option(
            _flag(field),
            field,
            default=None,
            metavar="VALUE",
            help=(
                f"{MEANINGS[field]}  [default: {shown_default(field)}; env: {variable}; {allowed}]"
            ),
        )(command)
    return command


def settings_from_options(
    options: dict[str, str | None], environ: Mapping[str, str] | None = None
) -> Settings:
    """Read Settings from the environment with the given command-line values winning.

    Raises SettingsError naming the option or variable that holds a bad value.
    """
    environ = os.environ if environ is None else environ
    parsed = {
        field: Settings.parse(field, text, name=_flag(field))
        for field, text in options.items()
        if text is not None
    }
    if "host" not in parsed and "HOST" not in environ:
        parsed["host"] = CLI_DEFAULTS["host"]
    return Settings.from_env(environ, **parsed)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simple-flask")
def main() -> None:
    """simple_flask: greetings and an HTTP status-code service, served by waitress.

    Settings come from the environment (PORT, HOST, SIMPLE_FLASK_*);
    command-line options override them.
    """


@main.command("serve")
@_with_setting_options
def serve_command(**options: str | None) -> None:
    """Serve the app with waitress until SIGTERM or Ctrl-C, then drain and exit 0.

    There is no debug mode: the Werkzeug debugger is never served.
    """
    from .serving import exit_process, serve

    try:
        settings = settings_from_options(options)
    except SettingsError as error:
        print(f"simple-flask: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    exit_process(serve(settings))


@main.command("healthcheck")
@click.option("--host", default=None, help="Address the server listens on.  [env: HOST]")
@click.option("--port", default=None, help="Port the server listens on.  [env: PORT]")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 60),
    default=2.0,
    show_default=True,
    help="Seconds the answer may take.",
)
@click.option(
    "--path",
    type=click.Choice(["/healthz", "/readyz"]),
    default="/healthz",
    show_default=True,
    help="/healthz: the process serves; /readyz: its sequence store answers too.",
)
def healthcheck_command(host: str | None, port: str | None, timeout: float, path: str) -> None:
    """Exit 0 if GET /healthz (or --path) answers 200 within the timeout, else 1 (for HEALTHCHECK).

    A server listening on 0.0.0.0 or :: is asked on loopback. Standard library only.
    """
    from .healthcheck import check, probe_address

    try:
        # parse() returns each field's own type: str for host, int for port.
        host_value = cast("str | None", Settings.parse("host", host, "--host") if host else None)
        port_value = cast("int | None", Settings.parse("port", port, "--port") if port else None)
        if host_value is None and "HOST" in os.environ:
            host_value = cast(str, Settings.parse("host", os.environ["HOST"]))
        if port_value is None and "PORT" in os.environ:
            port_value = cast(int, Settings.parse("port", os.environ["PORT"]))
    except SettingsError as error:
        # 1, not 2: HEALTHCHECK reserves exit status 2.
        print(f"simple-flask healthcheck: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    address = probe_address(host_value or Settings.host)
    port_number = port_value or Settings.port

    def too_slow(number: int, frame: FrameType | None) -> None:
        raise TimeoutError

    # A hard stop, whatever the server does: a trickle of bytes would renew
    # each socket timeout.
    signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, timeout + 0.5)
    try:
        healthy, why = check(address, port_number, timeout, path)
    except TimeoutError:
        healthy, why = False, f"no answer within {timeout:g}s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if not healthy:
        shown = f"[{address}]" if ":" in address else address
        print(f"unhealthy: http://{shown}:{port_number}{path}: {why}", file=sys.stderr)
        raise SystemExit(1)
