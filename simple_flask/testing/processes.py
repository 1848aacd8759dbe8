"""Processes under test: a free loopback port for each, its environment, a wait and a stop.

Shared by the tests, the benchmarks and the deployment rehearsal, which all
start real servers on loopback and must never leave one running.
"""

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

# Everything under test listens here only: nothing is reachable from outside.
LOOPBACK = "127.0.0.1"
# How long a process may take to stop on SIGTERM: a server drains its
# connections first, which on a loaded machine takes a few seconds.
STOP_TIMEOUT = 15.0
# The service reads its settings from variables named so (core/settings.py).
SETTINGS_PREFIX = "SIMPLE_FLASK_"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on `host` a moment ago."""
    # Binding port 0 lets the kernel pick; the caller binds it again soon
    # after, which on loopback nothing else is expected to race for.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: "subprocess.Popen[Any]", timeout: float = STOP_TIMEOUT) -> int:
    """Send `process` SIGTERM, SIGKILL it if it outlasts `timeout` seconds; return its status."""
    if process.poll() is None:
        # SIGTERM first: a server drains its requests and removes its files on it.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            # One that hangs must still not outlive the run that started it.
            process.kill()
            process.wait()
    return process.returncode


def wait_for(
    condition: Callable[[], object],
    timeout: float,
    process: "subprocess.Popen[Any] | None" = None,
    interval: float = 0.05,
) -> bool:
    """Call `condition` every `interval` seconds until it returns a true value; return True then.

    Return False once `process` (if given) has exited or `timeout` seconds
    have passed. A condition that raises OSError or an HTTP protocol error
    has not held yet: a server that is still starting refuses or drops
    connections.
    """
    deadline = time.monotonic() + timeout
    while process is None or process.poll() is None:
        try:
            if condition():
                return True
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return False


def server_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without the service's settings, updated with `extra`."""
    # A server under test starts from the production defaults: no SIMPLE_FLASK_*
    # variable of the caller's shell may change what is tested or measured.
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(SETTINGS_PREFIX)
    }
    environment.update(extra or {})
    return environment
