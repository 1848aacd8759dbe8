"""Start a benchmarked server on loopback, time its first answer, read its memory, stop it."""

import http.client
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simple_flask.core.settings import Settings
from simple_flask.server.serving import waitress_options
from simple_flask.testing import processes
from simple_flask.testing.processes import LOOPBACK, STOP_TIMEOUT, free_port, stop, wait_for

from .servers.waitress_runner import OPTIONS_VARIABLE
from .targets import Target

ROOT = Path(__file__).resolve().parent.parent
# The cold start is timed to the first answer: the server is asked this often.
POLL_INTERVAL = 0.002


def server_options(port: int) -> dict[str, object]:
    """Return the service's production waitress options, on loopback and `port`."""
    return waitress_options(Settings(host=LOOPBACK, port=port))


def server_environment(port: int) -> dict[str, str]:
    """Return the environment of a server: production defaults, loopback, `port`."""
    env = processes.server_environment(
        {"HOST": LOOPBACK, "PORT": str(port), OPTIONS_VARIABLE: json.dumps(server_options(port))}
    )
    # Modules are compiled once and cached, as in an installed package.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@dataclass
class Running:
    """A started server process."""

    target: Target
    process: subprocess.Popen
    port: int
    # Seconds from process start to its first HTTP answer.
    cold_start: float

    def url(self, path: str) -> str:
        """Return the URL of `path` on this server."""
        return f"http://{LOOPBACK}:{self.port}{path}"

    def rss_kib(self) -> int:
        """Return the server's resident memory (VmRSS) in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Stop the server (SIGTERM, then SIGKILL if it lingers); return its exit status."""
        return stop(self.process, timeout)


def get(port: int, path: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Send one GET over a fresh connection; return status, headers and body."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def command(
    target: Target, python: Path, cpu: int | None, wrapper: tuple[str, ...] = ()
) -> list[str]:
    """Return the command line that runs `target` with `python`, pinned to `cpu` if given.

    `wrapper` goes before the interpreter: a program that runs it, such as valgrind.
    """
    if target.module is None:
        # The service runs from its production entry point, as its container does.
        words = [*wrapper, str(python), str(ROOT / "start.py")]
    else:
        words = [*wrapper, str(python), "-m", target.module]
    if cpu is not None:
        words = ["taskset", "--cpu-list", str(cpu), *words]
    return words


def start(
    target: Target,
    python: Path | None = None,
    cpu: int | None = None,
    timeout: float = 60,
    log: Path | None = None,
    wrapper: tuple[str, ...] = (),
    settings: dict[str, str] | None = None,
) -> Running:
    """Start `target` on a free port and wait until it answers its first route.

    Its output goes to `log`, or to /dev/null as a container's log driver would
    take it away; a server that fails to answer is reported with its output.
    `wrapper` runs the interpreter (see command()); `settings` are environment
    variables set on top of the production defaults, such as SIMPLE_FLASK_*.
    """
    port = free_port()
    path = target.routes[0]
    sink = open(log, "ab") if log else open(os.devnull, "wb")
    with sink:
        began = time.perf_counter()
        process = subprocess.Popen(
            command(target, python or Path(sys.executable), cpu, wrapper),
            cwd=ROOT,
            env={**server_environment(port), **(settings or {})},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    left = timeout - (time.perf_counter() - began)
    if wait_for(lambda: get(port, path, timeout=timeout), left, process, POLL_INTERVAL):
        return Running(target, process, port, time.perf_counter() - began)
    stop(process)
    raise RuntimeError(
        f"{target.name} did not answer within {timeout:g}s (exit status {process.returncode});"
        f" rerun with --log DIR to see its output"
    )
