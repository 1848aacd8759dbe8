"""Helpers for tests that run the real server in a subprocess, on loopback only."""

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
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


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on `host` a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


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

    def output(self) -> tuple[str, str]:
        """Return what the process wrote to stdout and stderr so far."""
        if self.final_output is not None:
            return self.final_output
        return (
            self.stdout_path.read_text(errors="replace"),
            self.stderr_path.read_text(errors="replace"),
        )


def wait_until_serving(server: Server, deadline: float) -> None:
    """Poll `server` until it answers HTTP, or fail with its output."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError):
            server.request("GET", "/", timeout=1)
            return
        time.sleep(0.05)
    stdout, stderr = server.output()
    raise AssertionError(
        f"server did not answer (exit {server.process.poll()}):\n{stdout}\n{stderr}"
    )


def wait_for_healthz(process: subprocess.Popen, port: int, stderr_path: Path) -> None:
    """Poll GET /healthz of `process` on `port` for up to 30 s, or fail with its stderr."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, stderr_path.read_text()
        try:
            request(port, "GET", "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from /healthz: {stderr_path.read_text()}")


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
    full_env = {
        key: value for key, value in os.environ.items() if not key.startswith("SIMPLE_FLASK_")
    }
    full_env.update({"HOST": host, "PORT": str(port), "PYTHONUNBUFFERED": "1"})
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
                wait_until_serving(server, time.monotonic() + startup_timeout)
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


def stop(process: subprocess.Popen, timeout: float = 15) -> int:
    """Ask `process` to stop with SIGTERM, kill it if it lingers; return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for `reason`, such as a program that is not installed; fail it under CI=true.

    CI installs every program the tests need (.ci/run), so there a missing
    one is an error, not a reason to skip.
    """
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)
