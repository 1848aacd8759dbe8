"""Serve the app with waitress, configured from Settings: start-up, signals, graceful shutdown."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import sys
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from ..core.settings import Settings, SettingsError, redact_url

if TYPE_CHECKING:
    # Imported at run time only when serving starts: the command line stays light.
    from flask import Flask

    from .waitress_internals import GracefulServer

logger = logging.getLogger("simple_flask")

# waitress counts its own listening socket and its wake-up pipe against
# connection_limit; they are added so that the setting counts clients only.
INTERNAL_SOCKETS = 2
# File descriptors besides client connections: standard streams, the listening
# socket, the wake-up pipe, and the temporary files waitress spills responses
# over 1 MiB into.
SPARE_DESCRIPTORS = 64
# Forwarded headers honoured from a trusted proxy (any other peer's are removed).
TRUSTED_PROXY_HEADERS = "x-forwarded-for x-forwarded-host x-forwarded-proto x-forwarded-port"
# waitress reads 8 KiB at a time, so a chunked body can run this far past the
# limit before it is refused.
BODY_READ_MARGIN = 64 * 1024
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def waitress_options(settings: Settings) -> dict[str, object]:
    """Translate Settings into waitress's keyword arguments (JSON-serialisable)."""
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "threads": settings.threads,
        "connection_limit": settings.connection_limit + INTERNAL_SOCKETS,
        # As many connections may wait to be accepted as may be open, so that a
        # crowd arriving at once is not left to retry its SYNs (the kernel caps
        # it at net.core.somaxconn).
        "backlog": settings.connection_limit,
        # Closes connections idle (or sending a request) for this long; the
        # check runs every cleanup_interval seconds, so it runs often enough
        # for the timeout to hold within half of itself.
        "channel_timeout": settings.idle_timeout,
        "cleanup_interval": max(1, settings.idle_timeout // 2),
        # Larger bodies are answered 413 before they are read. waitress refuses
        # a body of exactly its limit, hence the + 1.
        "max_request_body_size": settings.max_request_body + 1,
        # Every body the service accepts stays in memory (waitress would spill
        # one over 512 KiB into a temporary file, which a read-only root
        # filesystem refuses); the margin covers one read past the limit.
        "inbuf_overflow": settings.max_request_body + BODY_READ_MARGIN,
        # Every answer stays in memory too: waitress would spill one over 1 MiB
        # that its client has not read yet (a ?size= body, Swagger UI's script)
        # into a temporary file, which a read-only root filesystem refuses.
        "outbuf_overflow": settings.max_answer_size + BODY_READ_MARGIN,
        # No version in the Server header.
        "ident": "simple_flask",
        # select() stops at descriptor 1024; poll() has no such ceiling.
        "asyncore_use_poll": True,
        "expose_tracebacks": False,
        # Forwarded headers from peers that are not the trusted proxy are
        # removed, so the app never sees a client's forged X-Forwarded-For.
        "clear_untrusted_proxy_headers": True,
    }
    if settings.trusted_proxy:
        options["trusted_proxy"] = settings.trusted_proxy
        options["trusted_proxy_count"] = 1
        options["trusted_proxy_headers"] = TRUSTED_PROXY_HEADERS
    return options


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (up to the hard limit); return the new one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def affordable_connections(settings: Settings) -> int:
    """Raise the descriptor limit for settings.connection_limit; return how many clients fit."""
    available = raise_open_file_limit(settings.connection_limit + SPARE_DESCRIPTORS)
    if available - SPARE_DESCRIPTORS >= settings.connection_limit:
        return settings.connection_limit
    # Past the descriptor limit accept() fails and waitress would retry it in
    # a busy loop; a lower connection limit makes new clients wait instead.
    affordable = max(1, available - SPARE_DESCRIPTORS)
    logger.warning(
        "the open-file limit (%d) allows %d connections, not SIMPLE_FLASK_CONNECTION_LIMIT=%d;"
        " raise it (ulimit -n, docker run --ulimit nofile=...) to allow more",
        available,
        affordable,
        settings.connection_limit,
    )
    return affordable


def configure_logging(settings: Settings) -> None:
    """Send application logs to stderr at the configured level; stdout carries the access log."""
    from ..wsgi.request_log import RequestIdFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # waitress warns "Task queue depth is N" for every request that waits for a
    # thread: under load that is a line per request. Shown at DEBUG only.
    queue_level = logging.DEBUG if settings.log_level == "DEBUG" else logging.ERROR
    logging.getLogger("waitress.queue").setLevel(queue_level)
    # One line per write, even when stdout is a pipe (a container's log driver).
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)


def build_app(settings: Settings) -> Flask:
    """Build the app for production serving: debug mode off whatever the environment says."""
    from ..rest import create_app

    app = create_app({"SETTINGS": settings})
    # FLASK_DEBUG=1 in the environment turns app.debug on; served here, it
    # stays off (the Werkzeug debugger on 0.0.0.0 is remote code execution).
    app.debug = False
    return app


def _listen_failure(settings: Settings, error: OSError) -> int:
    """Print one line about a socket that could not be opened; return the exit status."""
    reason = error.strerror or str(error)
    print(
        f"simple-flask: cannot listen on {settings.host} port {settings.port}"
        f" (HOST, PORT): {reason}",
        file=sys.stderr,
    )
    # An address this machine does not have is a bad setting (2); a port in
    # use or forbidden is a problem of the moment (1).
    bad_setting = isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL
    return 2 if bad_setting else 1


def serve(settings: Settings, app: Flask | None = None) -> int:
    """Serve `app` (default: the service) until SIGTERM or SIGINT, drain, return the exit status.

    The first signal stops accepting connections and gives requests in flight
    settings.shutdown_grace seconds to finish; a second one ends the wait at once.
    """
    # Handlers first: a signal that comes while the app is still being built
    # (or as PID 1, where an unhandled SIGTERM is dropped) is kept for later.
    servers: list[GracefulServer] = []
    early: list[int] = []

    def on_signal(number: int, frame: FrameType | None) -> None:
        # Only flags and a byte down a pipe here: the loop does the work.
        if servers:
            servers[0].request_stop()
        else:
            early.append(number)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _serve(settings, app, servers, early)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(
    settings: Settings,
    app: Flask | None,
    servers: list[GracefulServer],
    early: list[int],
) -> int:
    """Start the server, hand it to the signal handler through `servers`, run it to the end."""
    from ..core.proofs import UnprovenGuard
    from .waitress_internals import GracefulServer

    configure_logging(settings)
    if app is None:
        app = build_app(settings)
    options = waitress_options(settings)
    connections = affordable_connections(settings)
    options["connection_limit"] = connections + INTERNAL_SOCKETS
    from ..rest.cors import cors_headers_outside

    try:
        # waitress's own error answers get the CORS headers the app's carry.
        server = GracefulServer(
            app,
            access_log=settings.access_log,
            extra_headers=cors_headers_outside(app),
            **options,
        )
    except OSError as error:
        return _listen_failure(settings, error)
    except UnprovenGuard as error:
        # The security notes promise this bound: no start without it.
        print(f"simple-flask: {error}; refusing to start", file=sys.stderr)
        return 1
    servers.append(server)
    for _ in early:
        server.request_stop()
    for host, port in server.addresses():
        shown = f"[{host}]" if ":" in host else host
        logger.info(
            "Serving on http://%s:%d (%d threads, %d connections, idle timeout %ds,"
            " shutdown grace %gs), API docs at http://%s:%d/docs",
            shown,
            port,
            settings.threads,
            connections,
            settings.idle_timeout,
            settings.shutdown_grace,
            shown,
            port,
        )
    # The URL without its password, so that the operator sees where sequences live.
    logger.info("Sequences kept in %s", redact_url(settings.state_url))
    report = server.serve(settings.shutdown_grace)
    if report.abandoned:
        logger.warning(
            "shutdown grace of %gs ended with %d request(s) still running;"
            " their connections were closed without an answer",
            settings.shutdown_grace,
            report.abandoned,
        )
    else:
        logger.info(
            "stopped after %.2fs; %d request(s) in flight finished",
            report.seconds,
            report.in_flight,
        )
    return 0


def exit_process(status: int) -> NoReturn:
    """End the process with `status` once its logs are written, without the interpreter's teardown.

    After the drain nothing is left to do, but freeing some 300 modules takes
    Python 0.1-0.3 s, which an orchestrator waiting for the exit (a rolling
    update) waits for too. atexit's only work here is flushing the logs: done
    first.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def load_settings_or_exit(**overrides: object) -> Settings:
    """Read Settings from the environment, or exit with status 2 and one line on stderr."""
    try:
        return Settings.from_env(None, **overrides)
    except SettingsError as error:
        print(f"simple-flask: {error}", file=sys.stderr)
        raise SystemExit(2) from None
