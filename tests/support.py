"""Helpers the tests share: the real server run in a subprocess on loopback only, a module or
program run for a test, and the tests' own reading of a benchmark goal.

Free ports, stopping processes and waiting on them come from simple_flask.testing.
"""

import contextlib
import http.client
import operator
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn
from urllib.parse import urljoin

import pytest

from simple_flask.testing.processes import LOOPBACK, free_port, server_environment, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
# How long a server may take to answer its first request on a loaded machine.
HEALTHZ_TIMEOUT = 30
# How long one readiness probe waits for its answer.
PROBE_TIMEOUT = 10
START = [sys.executable, str(ROOT / "start.py")]


WEB_FRAMEWORK = frozenset({"flask", "werkzeug", "waitress"})
# `simple-flask serve` on the host and port running_server() picks.
SERVE = [sys.executable, "-m", "simple_flask", "serve", "--host", "{host}", "--port", "{port}"]


def web_modules_after(script: str) -> list[str]:
    """Run `script` in a fresh interpreter; return the web-framework modules it loaded."""
    probe = (
        f"{script}\n"
        "import sys\n"
        f"web = {set(WEB_FRAMEWORK)!r}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in web)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in result.stdout.strip().split(",") if name]


def run_python(python: Path | str, script: str, cwd: Path) -> str:
    """Run `script` with the interpreter `python` in `cwd`; return its stdout, failing on error."""
    return subprocess.run(
        [str(python), "-c", script], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def unshare_problem(*options: str) -> str | None:
    """Return why `unshare OPTIONS true` cannot run here (not installed, not permitted), or None."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", *options, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare {' '.join(options)} is not permitted here: {probe.stderr.strip()}"
    return None


def request(
    port: int,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    host: str = LOOPBACK,
    timeout: float = 10,
    source: str | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """Send one request over a fresh connection; return the response and its body.

    `source` is the local address to connect from (any loopback address, such
    as 127.0.0.2, to tell the client apart from a proxy on 127.0.0.1).
    """
    connection = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def exchange(
    port: int, data: bytes, host: str = LOOPBACK, timeout: float = 30
) -> tuple[bytes, str]:
    """Send raw `data` on a new connection; return all it gets and how the connection ended.

    The ending is "close" (FIN) or "reset" (RST).
    """
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as client:
        client.sendall(data)
        try:
            while chunk := client.recv(65536):
                received += chunk
        except ConnectionResetError:
            return received, "reset"
    return received, "close"


@dataclass
class Server:
    """A server process under test, with its port and captured output."""

    process: subprocess.Popen
    port: int
    host: str
    stdout_path: Path
    stderr_path: Path
    # What the process wrote, kept once it has stopped and its log files are gone.
    final_output: tuple[str, str] | None = None

    def request(self, method: str, path: str, **kwargs):
        """Send one request to this server; see request()."""
        return request(self.port, method, path, host=self.host, **kwargs)

    def stop(self) -> int:
        """Stop the process (SIGTERM, then SIGKILL if it lingers); return its exit status."""
        return stop(self.process)

    def output(self) -> tuple[str, str]:
        """Return what the process wrote to stdout and stderr so far."""
        if self.final_output is not None:
            return self.final_output
        return (
            self.stdout_path.read_text(errors="replace"),
            self.stderr_path.read_text(errors="replace"),
        )


def wait_until_serving(server: Server, timeout: float) -> None:
    """Poll `server`'s /healthz until it answers, or fail with its output.

    Each probe waits long enough to be answered on a loaded machine: one that
    gave up early would still be logged, later, among the test's own lines.
    """
    probe = lambda: server.request("GET", "/healthz", timeout=PROBE_TIMEOUT)  # noqa: E731
    if not wait_for(probe, timeout, server.process):
        stdout, stderr = server.output()
        raise AssertionError(
            f"server did not answer (exit {server.process.poll()}):\n{stdout}\n{stderr}"
        )


def wait_for_healthz(process: subprocess.Popen, port: int, stderr_path: Path) -> None:
    """Poll GET /healthz of `process` on `port` until it answers, or fail with its stderr."""
    answered = wait_for(
        lambda: request(port, "GET", "/healthz", timeout=PROBE_TIMEOUT),
        HEALTHZ_TIMEOUT,
        process,
        0.1,
    )
    if not answered:
        raise AssertionError(
            f"no answer from /healthz (exit {process.poll()}): {stderr_path.read_text()}"
        )


@contextlib.contextmanager
def launched_until_healthy(
    start: Callable[[int, IO[str], IO[str]], subprocess.Popen], logs: Path
) -> Iterator[Server]:
    """Start a server with `start(port, stdout, stderr)` and wait until its /healthz answers.

    `port` is a free loopback port for it to listen on; its output goes to
    `logs`/stdout and `logs`/stderr. On exit it is killed if still running.
    """
    port = free_port()
    stdout_path, stderr_path = logs / "stdout", logs / "stderr"
    with open(stdout_path, "w") as stdout, open(stderr_path, "w") as stderr:
        process = start(port, stdout, stderr)
    try:
        wait_for_healthz(process, port, stderr_path)
        yield Server(process, port, LOOPBACK, stdout_path, stderr_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_server(
    command: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    host: str = LOOPBACK,
    cwd: Path = ROOT,
    startup_timeout: float = 20,
    wait: bool = True,
) -> Iterator[Server]:
    """Run `command` (default: python start.py) on a free loopback port; stop it on exit.

    "{host}" and "{port}" in the command's words are replaced; HOST and PORT are
    set in its environment too.
    """
    port = free_port(host)
    command = [word.format(host=host, port=port) for word in command or START]
    full_env = server_environment({"HOST": host, "PORT": str(port), "PYTHONUNBUFFERED": "1"})
    full_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="simple_flask_server_") as logs:
        stdout_path, stderr_path = Path(logs, "stdout"), Path(logs, "stderr")
        with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=full_env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        server = Server(process, port, host, stdout_path, stderr_path)
        try:
            if wait:
                wait_until_serving(server, startup_timeout)
            yield server
        finally:
            stop(process)
            server.final_output = server.output()


@contextlib.contextmanager
def serving_in_thread(app, threads: int = 2, **options) -> Iterator[int]:
    """Serve the WSGI `app` with waitress on a free loopback port in a thread; yield the port.

    The server is the one `simple-flask serve` runs (`options` go to waitress);
    it is stopped and its thread joined on exit.
    """
    from simple_flask.server.waitress_internals import GracefulServer

    options.update(host=LOOPBACK, port=0, threads=threads)
    server = GracefulServer(app, access_log=False, **options)
    thread = threading.Thread(target=server.serve, args=(1.0,), daemon=True)
    thread.start()
    try:
        ((_, port),) = server.addresses()
        yield port
    finally:
        server.request_stop()
        thread.join(10)
        assert not thread.is_alive(), "the server thread did not stop"


def docs_assets(server: Server) -> dict[str, bytes]:
    """GET /docs and each file its page loads (src, href); return the bodies by path."""
    response, page = server.request("GET", "/docs")
    assert response.status == 200
    assets = re.findall(r'(?:src|href)="([^":]+)"', page.decode())
    assert assets, page
    bodies = {}
    for asset in assets:
        path = urljoin("/docs", asset)
        response, body = server.request("GET", path)
        assert response.status == 200 and body, path
        bodies[path] = body
    return bodies


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for `reason`, such as a program that is not installed; fail it under CI=true.

    CI installs every program the tests need (.ci/run), so there a missing
    one is an error, not a reason to skip.
    """
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_programs(*names: str, install: str) -> None:
    """Skip the test (fail it under CI=true) unless every program of `names` is on PATH.

    `install` says how to get them, such as "apt-get install valgrind".
    """
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        skip_or_fail(f"{' and '.join(missing)} not installed ({install})")


def run_module(*arguments: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run `python -m ARGUMENTS` from the checkout's root; fail with its output unless it exits 0.

    Returns the finished process, its stdout and stderr as text.
    """
    result = subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# The comparisons a benchmark goal is written with, such as ">= 0.9".
GOAL_COMPARISONS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


def goal_met(measured: float | None, goal: str) -> bool | None:
    """Whether `measured` meets `goal`, a comparison and a bound such as ">= 0.9".

    None when nothing was measured. The tests' own reading of a goal's text,
    to check the verdict a report gives.
    """
    comparison, bound = goal.split()
    return None if measured is None else GOAL_COMPARISONS[comparison](measured, float(bound))
