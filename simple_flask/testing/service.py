"""The status service in a test: the real `simple-flask serve` on a free loopback port.

running_service() runs one for a block; the StatusService it yields knows its
URL, and reads and forgets failure sequences with the standard library. The
server is a process of its own, running what `python -m simple_flask serve`
runs: the production server exactly, and none of its signal handlers, logging
set-up, threads or open-file limit enters the test process.
"""

import contextlib
import http.client
import json
import os
import re
import secrets
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .processes import LOOPBACK, STOP_TIMEOUT, free_port, server_environment, stop, wait_for

# `python -m simple_flask serve ...`, with one thread more: it stops the server
# (SIGTERM, as stop() does) when its standard input ends, which it does when
# the test process is gone, killed or not, so no server outlives its tests.
SERVE = (
    "import os, runpy, signal, threading\n"
    "def watch():\n"
    "    while os.read(0, 512):\n"
    "        pass\n"
    "    os.kill(os.getpid(), signal.SIGTERM)\n"
    "threading.Thread(target=watch, daemon=True).start()\n"
    "runpy.run_module('simple_flask', run_name='__main__', alter_sys=True)\n"
)
# The folder that holds this copy of simple_flask: the server runs the same one.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# What a test service differs in from production: it listens on loopback, it
# writes no access log (a line a request), and a request a test left stalled
# holds the end of the session one second at most.
TEST_DEFAULTS: dict[str, object] = {"host": LOOPBACK, "access_log": False, "shutdown_grace": 1}
# The server answers within a second; the bound is for a machine busy with other tests.
START_TIMEOUT = 30.0
# How long .report(), .keys(), .forget() and .reset() wait for their answer.
REQUEST_TIMEOUT = 10.0
# Starts on a port picked here: another process may take it before the server does.
PORT_TRIES = 3
# How much of the server's log an error quotes.
LOG_TAIL = 2000
# A sequence key (docs/sequences.md): 1 to 64 of these characters, not "." or "..".
# The rule is written again here, not imported: testing/ uses none of the service's code.
KEY_LENGTH = 64
KEY = re.compile(rf"[A-Za-z0-9._~-]{{1,{KEY_LENGTH}}}")
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


class ServiceError(RuntimeError):
    """The status service did not start, did not stop cleanly, or answered unexpectedly."""


def setting_flags(settings: dict[str, object]) -> list[str]:
    """Return `simple-flask serve`'s flags for `settings`, such as ["--max-sleep-ms", "2000"]."""
    flags = []
    for name, value in settings.items():
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, (tuple, list)):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        flags += ["--" + name.replace("_", "-"), text]
    return flags


def server_env() -> dict[str, str]:
    """Return the server's environment: no setting of the caller's, this copy of the package."""
    environment = server_environment({"PYTHONUNBUFFERED": "1"})
    # Flags give the address; HOST and PORT of the caller's shell must not count.
    environment.pop("HOST", None)
    environment.pop("PORT", None)
    # A checkout the tests import without installing it is found by the server too;
    # site-packages is searched anyway, and put first it could shadow the stdlib.
    installed = {
        Path(path).resolve() for path in [*site.getsitepackages(), site.getusersitepackages()]
    }
    if PACKAGE_ROOT not in installed:
        extra = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), extra]))
    return environment


def sequence_key(hint: str = "test") -> str:
    """Return a new sequence key: `hint` in the keys' alphabet, cut to fit, and a random tail."""
    tail = secrets.token_hex(4)
    stem = KEY_UNSAFE.sub("-", hint).strip(".-") or "test"
    return f"{stem[: KEY_LENGTH - len(tail) - 1]}-{tail}"


def _sequence_path(key: str) -> str:
    """Return the path of sequence `key`'s report; raise ValueError if it is no sequence key."""
    # Checked here, not left to the server: "" would make the path of the
    # list of keys, so report("") would read the list and forget("") erase
    # every sequence.
    if not KEY.fullmatch(key) or key in (".", ".."):
        raise ValueError(
            f"a sequence key must be 1 to {KEY_LENGTH} characters of A-Z a-z 0-9 . _ ~ -,"
            f" and not . or .., got {key[:70]!r}"
        )
    return f"/status/sequences/{key}"


class StatusService:
    """A running status service: its address, its log, and its sequences over HTTP."""

    def __init__(
        self,
        settings: dict[str, object],
        port: int,
        process: "subprocess.Popen[bytes]",
        log_path: Path,
    ) -> None:
        #: The settings the server was started with: the test defaults and the caller's.
        self.settings = {**settings, "port": port}
        self.host = str(settings["host"])
        self.port = port
        #: The server's process (`python -m simple_flask serve`).
        self.process = process
        #: The file the server logs to while it runs; log() keeps its text after.
        self.log_path = log_path
        self._final_log: str | None = None

    def __repr__(self) -> str:
        return f"<StatusService {self.url}>"

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash, such as http://127.0.0.1:41234."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def report(self, key: str) -> dict[str, Any] | None:
        """Return the report of sequence `key` (docs/sequences.md), or None for an unknown key.

        Raises ValueError, sending nothing, for a text that is no sequence key.
        """
        status, body = self._call("GET", _sequence_path(key), (200, 404))
        if status == 404:
            return None
        report: dict[str, Any] = json.loads(body)
        return report

    def keys(self) -> list[str]:
        """Return the keys of the sequences kept, the most recently used first (100 at most)."""
        _, body = self._call("GET", "/status/sequences/", (200,))
        keys: list[str] = json.loads(body)["keys"]
        return keys

    def forget(self, key: str) -> None:
        """Forget sequence `key`: its next request is attempt 1 again; ValueError as report()."""
        self._call("DELETE", _sequence_path(key), (204,))

    def reset(self) -> None:
        """Forget every sequence (DELETE /status/sequences/); not the `reset` fault."""
        self._call("DELETE", "/status/sequences/", (204,))

    def log(self) -> str:
        """Return what the server has logged so far: its stderr and stdout, in one file."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace")

    def _call(self, method: str, path: str, expected: tuple[int, ...]) -> tuple[int, bytes]:
        """Send one request on a fresh connection; return its status and body if expected."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status not in expected:
            raise ServiceError(f"{method} {path} answered {response.status}: {body[:500]!r}")
        return response.status, body

    def _answers(self) -> bool:
        """Tell whether GET /healthz answers 200."""
        self._call("GET", "/healthz", (200,))
        return True

    def _stop(self) -> int:
        """Stop the server (SIGTERM: it drains), keep its log; return its exit status."""
        # The drain may take its whole grace before the process is killed.
        grace = float(str(self.settings.get("shutdown_grace", 0)))
        status = stop(self.process, STOP_TIMEOUT + grace)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._final_log = self.log_path.read_text(errors="replace")
        return status


def _launch(settings: dict[str, object], port: int, log_path: Path) -> StatusService:
    """Start `simple-flask serve` on `port`, its output in `log_path`; return it at once."""
    command = [sys.executable, "-c", SERVE, "serve", *setting_flags({**settings, "port": port})]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            # Not the caller's folder, where a module could shadow one of the server's.
            cwd=log_path.parent,
            env=server_env(),
            # Never written to: the pipe only ends with this process (see SERVE).
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return StatusService(settings, port, process, log_path)


def _start(port: int | None, settings: dict[str, object], logs: Path) -> StatusService:
    """Start the server and return it once /healthz answers; raise ServiceError if it cannot."""
    host = str(settings["host"])
    attempt = 0
    while True:
        attempt += 1
        log_path = logs / f"server-{attempt}.log"
        service = _launch(settings, port or free_port(host), log_path)
        try:
            ready = wait_for(service._answers, START_TIMEOUT, service.process, interval=0.02)
        except BaseException:
            service._stop()
            raise
        # Should another process take the port in the moment between free_port()
        # and the server's start, and answer here, this server exits 1 and the
        # exit of running_service() says so.
        if ready:
            return service
        status = service._stop()
        tail = service.log()[-LOG_TAIL:]
        taken = status == 1 and "cannot listen" in tail
        if not (taken and port is None and attempt < PORT_TRIES):
            answered = f"simple-flask serve did not answer on {service.url}"
            raise ServiceError(f"{answered} (exit status {status}):\n{tail}")


@contextlib.contextmanager
def running_service(**settings: object) -> Iterator[StatusService]:
    """Run the status service for the block; stop it after (a graceful drain), whatever happens.

    `settings` are those of `simple-flask serve` by their field names (see
    core/settings.py), such as max_sleep_ms=2000 or threads=4; only these
    count, never the caller's environment. Unless given, host is 127.0.0.1,
    port a free one, access_log off and shutdown_grace 1 s. Raises
    ServiceError if the server cannot start (a bad setting says which), or
    if it did not exit 0 when stopped.
    """
    # None leaves a setting at its default, as Settings.from_env() has it.
    chosen = {**TEST_DEFAULTS, **{name: v for name, v in settings.items() if v is not None}}
    port = chosen.pop("port", None)
    with tempfile.TemporaryDirectory(prefix="simple_flask_service_") as logs:
        service = _start(int(str(port)) if port is not None else None, chosen, Path(logs))
        try:
            yield service
        finally:
            status = service._stop()
        if status != 0:
            raise ServiceError(
                f"simple-flask serve on {service.url} exited {status}:\n{service.log()[-LOG_TAIL:]}"
            )
