"""The replicas: `python start.py` each on its own loopback port, and the access logs they write."""

import http.client
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from simple_flask.testing.processes import (
    LOOPBACK,
    free_port,
    server_environment,
    stop,
    wait_for,
)

from .programs import READY_TIMEOUT, ROOT, STOP_TIMEOUT, Unavailable

START = ROOT / "start.py"
# A replica is ready when this answers 200: it serves, and reaches the Redis.
READY_PATH = "/readyz"
# The shipped site never marks a replica down (max_fails=0): nginx tries a
# restarted replica on its next turn, and it is back in rotation within a few
# requests of the load. The bound is for a replica nginx never tries again.
ROTATION_TIMEOUT = 25.0
# Every request the rehearsal sends through nginx carries an X-Request-ID
# with this prefix, so that its access-log lines are told apart from probes.
REQUEST_ID_PREFIX = "rehearsal-"


def get(port: int, path: str, timeout: float = 2) -> int:
    """GET `path` from loopback:`port` over a fresh connection; return the status."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def replica_environment(state_url: str) -> dict[str, str]:
    """The environment of every replica but its PORT: this one's, without SIMPLE_FLASK_*."""
    return server_environment(
        {
            "HOST": LOOPBACK,
            "PYTHONUNBUFFERED": "1",
            # nginx connects from loopback: the replicas trust its X-Forwarded-For.
            "SIMPLE_FLASK_TRUSTED_PROXY": LOOPBACK,
            "SIMPLE_FLASK_STATE_URL": state_url,
        }
    )


class Replica:
    """One `python start.py` on its own port, which it keeps across restarts.

    Its access log (stdout) and application log (stderr) are appended to one
    file each, over every run.
    """

    def __init__(self, number: int, directory: Path, environment: dict[str, str]):
        self.number = number
        self.port = free_port()
        self.stdout = directory / f"replica-{number}.log"
        self.stderr = directory / f"replica-{number}.stderr"
        self.environment = {**environment, "PORT": str(self.port)}
        self.process: subprocess.Popen | None = None
        # Where the current run's access log starts in self.stdout.
        self.offset = 0

    def start(self) -> None:
        self.offset = self.stdout.stat().st_size if self.stdout.exists() else 0
        with open(self.stdout, "ab") as stdout, open(self.stderr, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(START)],
                cwd=ROOT,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Return once READY_PATH answers 200; raise Unavailable if the replica exits or never
        does."""
        ready = wait_for(
            lambda: get(self.port, READY_PATH, timeout=1) == 200, timeout, self.process
        )
        if not ready:
            status = self.process.poll()
            raise Unavailable(
                f"replica {self.number} was not ready on {READY_PATH} (exit {status}): "
                + self.stderr.read_text(errors="replace")[-2000:]
            )

    def in_rotation(self) -> bool:
        """Whether nginx has sent this run of the replica a request of the rehearsal."""
        with open(self.stdout, "rb") as log:
            log.seek(self.offset)
            return f'"request_id":"{REQUEST_ID_PREFIX}'.encode() in log.read()

    def wait_in_rotation(self, timeout: float = ROTATION_TIMEOUT) -> bool:
        """Wait until nginx sends this replica requests again; False if it has not by `timeout`."""
        return wait_for(self.in_rotation, timeout, interval=0.1)

    def stop(self) -> int:
        return stop(self.process, STOP_TIMEOUT)

    def kill(self) -> int:
        self.process.kill()
        return self.process.wait(STOP_TIMEOUT)


def read_access_logs(replicas: list[Replica]) -> tuple[dict[int, Counter], dict[str, int]]:
    """The client addresses each replica logged for the rehearsal's requests, and which
    replica logged each request id."""
    clients: dict[int, Counter] = {}
    served_by: dict[str, int] = {}
    for replica in replicas:
        clients[replica.number] = Counter()
        for line in replica.stdout.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if str(entry.get("request_id", "")).startswith(REQUEST_ID_PREFIX):
                clients[replica.number][entry.get("client")] += 1
                served_by[entry["request_id"]] = replica.number
    return clients, served_by
