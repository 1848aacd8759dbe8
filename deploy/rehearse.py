"""The whole topology rehearsed on this machine: nginx, Redis and three replicas, under load.

    python -m deploy.rehearse            # from the checkout's root; a report on stdout
    python -m deploy.rehearse --json     # the same report as one JSON object

Debian's nginx and redis-server and three replicas of the service
(`python start.py`) run on free loopback ports, every file in one temporary
directory: nginx from deploy/nginx/simple_flask.conf with one upstream line
per replica, the replicas trusting nginx (127.0.0.1) for X-Forwarded-For and
keeping failure sequences in the Redis (SIMPLE_FLASK_STATE_URL). Client
threads send keep-alive GETs and POSTs through nginx from 127.0.0.2 while the
rehearsal

1. restarts the replicas one at a time: SIGTERM, wait for the exit, start it
   again on its port, wait until its readiness route answers 200 and nginx
   sends it requests again;
2. kills one replica with SIGKILL, keeps the load on for a while, then starts
   it again the same way;

and a walker follows failure sequences through nginx the whole time. Then
it stops everything it started, reads the replicas' access logs, deletes the
directory and reports: requests and failures per phase and method, latency,
the restarts, the sequence walks, the client addresses the replicas logged.

Exit status: 0 when every check of the report holds (no GET failed during
the rolling restart, every sequence walk outside the SIGKILL window in order,
the replicas logged the client's address), 1 when one does not, 2 when nginx
or redis-server is missing or a part of the topology did not start.
"""

import argparse
import contextlib
import http.client
import json
import math
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_SITE = ROOT / "deploy" / "nginx" / "simple_flask.conf"
START = ROOT / "start.py"
# nginx connects to the replicas from here, and they trust it.
LOOPBACK = "127.0.0.1"
# The clients connect from another loopback address, so that the address the
# replicas log (taken from X-Forwarded-For) is told apart from nginx's.
CLIENT = "127.0.0.2"
REPLICAS = 3
# The lines of the shipped site that name the replicas and nginx's port;
# everything else runs as shipped.
UPSTREAM_LINE = re.compile(r"^(\s*)server simple-flask:8080;$", re.MULTILINE)
LISTEN_LINE = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
# nginx lives in /usr/sbin, which is not on every user's PATH.
SBIN = "/usr/sbin:/sbin"
PACKAGES = {"nginx": "nginx", "redis-server": "redis-server"}
# Every request the rehearsal sends through nginx carries an X-Request-ID
# with this prefix, so that its access-log lines are told apart from probes.
REQUEST_ID_PREFIX = "rehearsal-"
# Each request of the load asks the replica to take this long, as real work
# would: a replica killed with SIGKILL then has requests in flight.
WORK_MS = 10
# A walk: one request past the list, whose last entry then repeats.
SEQUENCE_ENTRIES = (503, 503, 502, 200)
SEQUENCE_WALK = len(SEQUENCE_ENTRIES) + 1
# Phases of the load, in the order they come.
STEADY, ROLLING, KILL = "steady", "rolling restart", "kill -9"
PHASES = (STEADY, ROLLING, KILL)
# A phase begins this long before a replica is signalled: a margin for the
# requests sent just before, whose counting in the phase depends on timing.
LEAD = 0.3
# A replica is ready when this answers 200: it serves, and reaches the Redis.
READY_PATH = "/readyz"
# Bounds on every wait, generous for a loaded machine.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# nginx passes over a replica that refused a connection for fail_timeout
# (10 s, nginx's default, which the shipped site keeps): a replica is back in
# rotation only once that has passed and nginx tried it again.
ROTATION_TIMEOUT = 25.0


class Unavailable(Exception):
    """A program the rehearsal needs is missing, or a part of the topology did not start."""


# --- programs and configuration ------------------------------------------------------------------


def find_program(name: str) -> str:
    """Return the path of `name`, looking in the sbin directories too; raise Unavailable if none."""
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if found is None:
        raise Unavailable(f"{name} is not installed (Debian: apt-get install {PACKAGES[name]})")
    return found


def missing_programs() -> list[str]:
    """Why the rehearsal cannot run here: one sentence per missing program, none when it can."""
    missing = []
    for name in PACKAGES:
        try:
            find_program(name)
        except Unavailable as error:
            missing.append(str(error))
    return missing


def program_version(argv: list[str]) -> str:
    """The version a program prints for `argv` (nginx -v, redis-server --version)."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = result.stdout + result.stderr
    found = re.search(r"(?:nginx/|v=)(\d[\w.]*)", text)
    return found.group(1) if found else text.strip()


def render_site(upstreams: list[str], listen: str) -> str:
    """The shipped site with one upstream `server` line per replica and the given listen address."""
    text = NGINX_SITE.read_text()
    text, found = UPSTREAM_LINE.subn(
        lambda match: "\n".join(f"{match.group(1)}server {address};" for address in upstreams), text
    )
    if found != 1:
        raise ValueError(f"{NGINX_SITE}: the `server simple-flask:8080;` line has changed")
    text, found = LISTEN_LINE.subn(lambda match: f"{match.group(1)}listen {listen};", text)
    if found != 1:
        raise ValueError(f"{NGINX_SITE}: the `listen 80;` line has changed")
    return text


def render_main(prefix: Path, site: Path) -> str:
    """An nginx.conf that keeps every file nginx writes in `prefix` and includes `site`."""
    # Run as root, nginx would switch its workers to `nobody`, who may not
    # enter a private temporary directory to buffer bodies.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\n"
        # One worker: one view of which replicas failed, as in the report.
        "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        # info: each passed-over replica is a line, counted in the report.
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM `process`, SIGKILL it if it outlasts `timeout`; return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


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


# --- the processes -------------------------------------------------------------------------------


class Redis:
    """redis-server on a free loopback port, persistence off, its files in `directory`."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        """Start it and return once it answers PING."""
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    find_program("redis-server"),
                    *("--port", str(self.port), "--bind", LOOPBACK, "--daemonize", "no"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((LOOPBACK, self.port), timeout=1) as connection,
            ):
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise Unavailable(f"redis-server did not answer: {self.directory / 'redis.log'}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(self.port, READY_PATH, timeout=1) == 200:
                    return
            time.sleep(0.05)
        raise Unavailable(
            f"replica {self.number} was not ready on {READY_PATH} (exit {self.process.poll()}): "
            + self.stderr.read_text(errors="replace")[-2000:]
        )

    def in_rotation(self) -> bool:
        """Whether nginx has sent this run of the replica a request of the rehearsal."""
        with open(self.stdout, "rb") as log:
            log.seek(self.offset)
            return f'"request_id":"{REQUEST_ID_PREFIX}'.encode() in log.read()

    def wait_in_rotation(self, timeout: float = ROTATION_TIMEOUT) -> bool:
        """Wait until nginx sends this replica requests again; False if it has not by `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.in_rotation():
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> int:
        return stop_process(self.process)

    def kill(self) -> int:
        self.process.kill()
        return self.process.wait(STOP_TIMEOUT)


class Nginx:
    """Debian's nginx in front of `replicas`, on a free loopback port, its files in `prefix`."""

    def __init__(self, prefix: Path, replicas: list[Replica]):
        self.prefix = prefix
        self.port = free_port()
        site = prefix / "simple_flask.conf"
        site.write_text(
            render_site([f"{LOOPBACK}:{replica.port}" for replica in replicas], self.port_address)
        )
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(render_main(prefix, site))
        self.process: subprocess.Popen | None = None

    @property
    def port_address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def command(self, *extra: str) -> list[str]:
        prefix = str(self.prefix)
        error_log = str(self.prefix / "error.log")
        return [find_program("nginx"), *extra, "-p", prefix, "-e", error_log, "-c", str(self.conf)]

    def start(self) -> None:
        checked = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise Unavailable(f"nginx -t refused the configuration: {checked.stderr}")
        with open(self.prefix / "nginx.stderr", "ab") as stderr:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                # Its own process group, so that its worker goes with it.
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), 1):
                return
            time.sleep(0.05)
        raise Unavailable(f"nginx did not listen: {self.prefix / 'nginx.stderr'}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            # A worker left by a master that had to be killed.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def passed_over(self) -> dict[str, int]:
        """What nginx's error log says it met at the replicas, counted by kind."""
        kinds = {
            "connection refused": "(111: Connection refused)",
            "connection reset": "(104: Connection reset by peer)",
            "closed early": "upstream prematurely closed",
            "no live upstreams": "no live upstreams",
        }
        log = (self.prefix / "error.log").read_text(errors="replace")
        return {kind: log.count(text) for kind, text in kinds.items() if text in log}


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request of the load: when it was sent, in which phase, and what came of it."""

    at: float
    phase: str
    method: str
    ok: bool
    latency: float
    # The status, or the exception's name when no answer came.
    what: str


@dataclass
class Walk:
    """One failure sequence walked through nginx: what each request got."""

    key: str
    phases: set[str]
    answers: list[tuple[int | None, str | None]]
    request_ids: list[str]
    replicas: set[int] = field(default_factory=set)

    @property
    def in_order(self) -> bool:
        entries = [*SEQUENCE_ENTRIES, *[SEQUENCE_ENTRIES[-1]] * SEQUENCE_WALK][:SEQUENCE_WALK]
        return self.answers == [(code, str(n)) for n, code in enumerate(entries, 1)]


class Load:
    """Client threads sending keep-alive requests through nginx until stopped, and a walker."""

    def __init__(self, port: int, threads: int):
        self.port = port
        self.phase = STEADY
        self.began = time.monotonic()
        self.outcomes: list[Outcome] = []
        self.walks: list[Walk] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.run = uuid.uuid4().hex[:8]
        self.threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(threads)
        ]
        self.threads.append(threading.Thread(target=self.walker, daemon=True))

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            LOOPBACK, self.port, timeout=35, source_address=(CLIENT, 0)
        )

    def send(
        self, connection: http.client.HTTPConnection | None, method: str, path: str, rid: str
    ) -> tuple[http.client.HTTPConnection | None, int | None, dict[str, str], str]:
        """One request on `connection` (a new one if None): the connection to go on with,
        the status (None without an answer), the headers and what came of it."""
        connection = connection or self.connect()
        try:
            body = b"rehearsal" if method == "POST" else None
            connection.request(method, path, body=body, headers={"X-Request-ID": rid})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return None, None, {}, type(error).__name__
        headers = dict(response.getheaders())
        if response.will_close:
            connection.close()
            connection = None
        return connection, response.status, headers, str(response.status)

    def client(self, number: int) -> None:
        # GETs and POSTs in turn: both count, and nginx retries only the GETs.
        connection = None
        sent = 0
        while not self.stopping.is_set():
            method, expected = ("GET", 200) if sent % 2 == 0 else ("POST", 201)
            rid = f"{REQUEST_ID_PREFIX}{self.run}-{number}-{sent}"
            phase, began = self.phase, time.monotonic()
            connection, status, _, what = self.send(
                connection, method, f"/status/{expected}?sleep={WORK_MS}", rid
            )
            latency = time.monotonic() - began
            # A request in flight when a phase begins or ends counts in that phase.
            phase = phase if phase != STEADY else self.phase
            outcome = Outcome(began - self.began, phase, method, status == expected, latency, what)
            with self.lock:
                self.outcomes.append(outcome)
            sent += 1
        if connection is not None:
            connection.close()

    def walker(self) -> None:
        # One walk after another, each on a key of its own; nginx spreads the
        # requests of a walk over the replicas.
        codes = ",".join(map(str, SEQUENCE_ENTRIES))
        walked = 0
        while not self.stopping.is_set():
            key = f"{REQUEST_ID_PREFIX}{self.run}-{walked}"
            walk = Walk(key, set(), [], [])
            connection = None
            for step in range(SEQUENCE_WALK):
                rid = f"{key}-{step}"
                walk.phases.add(self.phase)
                connection, status, headers, _ = self.send(
                    connection, "GET", f"/status/{codes}?sequence={key}", rid
                )
                # A request in flight when a phase begins counts in it too.
                walk.phases.add(self.phase)
                walk.answers.append((status, headers.get("X-Sequence-Attempt")))
                walk.request_ids.append(rid)
            if connection is not None:
                connection.close()
            with self.lock:
                self.walks.append(walk)
            walked += 1
            self.stopping.wait(0.05)

    @contextlib.contextmanager
    def in_phase(self, phase: str) -> Iterator[None]:
        """Count the requests sent in the block, or in flight when it begins or ends, in `phase`."""
        self.phase = phase
        time.sleep(LEAD)
        try:
            yield
        finally:
            self.phase = STEADY


# --- the rehearsal -------------------------------------------------------------------------------


def replica_environment(state_url: str) -> dict[str, str]:
    """The environment of every replica but its PORT: this one's, without SIMPLE_FLASK_*."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SIMPLE_FLASK_")
    }
    environment.update(
        {
            "HOST": LOOPBACK,
            "PYTHONUNBUFFERED": "1",
            "SIMPLE_FLASK_TRUSTED_PROXY": LOOPBACK,
            "SIMPLE_FLASK_STATE_URL": state_url,
        }
    )
    return environment


def restart(replica: Replica, how: str, pause: Callable[[], None] = lambda: None) -> dict:
    """Stop `replica` (SIGTERM and wait, or SIGKILL), `pause`, start it; return the timings."""
    began = time.monotonic()
    status = replica.stop() if how == "SIGTERM" else replica.kill()
    stopped = time.monotonic()
    pause()
    restarted = time.monotonic()
    replica.start()
    replica.wait_ready()
    ready = time.monotonic()
    back = replica.wait_in_rotation()
    return {
        "replica": replica.number,
        "signal": how,
        "exit_status": status,
        "stopped_s": round(stopped - began, 3),
        "ready_s": round(ready - restarted, 3),
        # From ready until nginx sent it a request again (None: not within the bound).
        "back_in_rotation_s": round(time.monotonic() - ready, 3) if back else None,
    }


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


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rehearse(
    threads: int = 4,
    settle: float = 2.0,
    kill_window: float = 3.0,
    progress: Callable[[str], None] = lambda text: None,
) -> dict:
    """Run the rehearsal and return its report (see summarize()); raise Unavailable if it cannot."""
    versions = {
        "nginx": program_version([find_program("nginx"), "-v"]),
        "redis-server": program_version([find_program("redis-server"), "--version"]),
    }
    began = time.monotonic()
    restarts: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="simple_flask_rehearsal_") as scratch:
        directory = Path(scratch)
        with contextlib.ExitStack() as running:
            redis = Redis(directory)
            running.callback(redis.stop)
            redis.start()
            environment = replica_environment(redis.url)
            replicas = [Replica(n, directory, environment) for n in range(1, REPLICAS + 1)]
            for replica in replicas:
                running.callback(lambda replica=replica: replica.process and replica.stop())
                replica.start()
            for replica in replicas:
                replica.wait_ready()
            nginx = Nginx(directory, replicas)
            running.callback(nginx.stop)
            nginx.start()
            progress(f"nginx on {nginx.port_address}, replicas on {[r.port for r in replicas]}")

            load = running.enter_context(Load(nginx.port, threads))
            time.sleep(settle)
            with load.in_phase(ROLLING):
                for replica in replicas:
                    progress(f"rolling restart: replica {replica.number}")
                    restarts.append(restart(replica, "SIGTERM"))
            time.sleep(settle)
            with load.in_phase(KILL):
                progress(f"kill -9: replica {replicas[0].number}")
                restarts.append(restart(replicas[0], "SIGKILL", lambda: time.sleep(kill_window)))
            time.sleep(settle)
            load.stopping.set()
            progress("stopping")
        # Everything has stopped: its logs are complete.
        clients, served_by = read_access_logs(replicas)
        passed_over = nginx.passed_over()
    for walk in load.walks:
        walk.replicas = {served_by[rid] for rid in walk.request_ids if rid in served_by}
    return summarize(
        load,
        restarts,
        clients,
        passed_over,
        {
            **versions,
            "replicas": REPLICAS,
            "client_threads": threads,
            "client_address": CLIENT,
            "readiness_path": READY_PATH,
            "work_ms": WORK_MS,
            "ports": {
                "nginx": nginx.port,
                "redis": redis.port,
                "replicas": [replica.port for replica in replicas],
            },
        },
        time.monotonic() - began,
    )


def summarize(
    load: Load,
    restarts: list[dict],
    logged: dict[int, Counter],
    passed_over: dict[str, int],
    topology: dict,
    duration: float,
) -> dict:
    """The report: what the load met in each phase, the restarts, the walks and the checks."""
    outcomes = load.outcomes
    by_phase: dict[str, dict[str, dict[str, int]]] = {}
    for phase in PHASES:
        by_phase[phase] = {}
        for method in ("GET", "POST"):
            sent = [o for o in outcomes if o.phase == phase and o.method == method]
            by_phase[phase][method] = {
                "requests": len(sent),
                "failures": sum(not o.ok for o in sent),
            }
    latencies = [o.latency * 1000 for o in outcomes] or [0.0]
    clients = sum(logged.values(), Counter())
    failed = [o for o in outcomes if not o.ok]
    report = {
        "topology": topology,
        "duration_s": round(duration, 1),
        "requests": len(outcomes),
        "failures": len(failed),
        "by_phase": by_phase,
        "failed_requests": [
            {"at_s": round(o.at, 2), "phase": o.phase, "method": o.method, "what": o.what}
            for o in failed[:20]
        ],
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "restarts": restarts,
        "nginx_passed_over": passed_over,
        "access_log": {
            "clients": dict(clients),
            "lines": sum(clients.values()),
            "by_replica": {str(number): dict(found) for number, found in logged.items()},
        },
    }
    walks = load.walks
    report["sequence"] = {
        "entries": list(SEQUENCE_ENTRIES),
        "requests_per_walk": SEQUENCE_WALK,
        "walks": len(walks),
        "in_order": sum(walk.in_order for walk in walks),
        "by_phase": {
            phase: {
                "walks": sum(phase in walk.phases for walk in walks),
                "in_order": sum(phase in walk.phases and walk.in_order for walk in walks),
            }
            for phase in PHASES
        },
        "across_replicas": sum(len(walk.replicas) >= 2 for walk in walks),
        "out_of_order": [
            {"key": walk.key, "phases": sorted(walk.phases), "answers": walk.answers}
            for walk in walks
            if not walk.in_order
        ][:10],
    }
    outside_kill = [walk for walk in walks if KILL not in walk.phases]
    report["checks"] = {
        "no GET failed during the rolling restart": by_phase[ROLLING]["GET"]["requests"] > 0
        and by_phase[ROLLING]["GET"]["failures"] == 0,
        # Each replica logged requests of the rehearsal, all from the client.
        "the replicas logged the client's address": bool(logged)
        and all(set(found) == {CLIENT} for found in logged.values()),
        # A walk in the kill window may skip an attempt: see docs/deploy.md.
        "every sequence walk outside the kill -9 window in order": bool(outside_kill)
        and all(walk.in_order for walk in outside_kill),
        "sequence walks crossed replicas": report["sequence"]["across_replicas"] > 0,
    }
    return report


# --- the report ----------------------------------------------------------------------------------


def format_report(report: dict) -> str:
    """The report as a few lines of text."""
    topology = report["topology"]
    lines = [
        f"Rehearsal: nginx {topology['nginx']}, redis-server {topology['redis-server']}, "
        f"{topology['replicas']} replicas; {topology['client_threads']} client threads from "
        f"{topology['client_address']} (keep-alive, GET and POST in turn, "
        f"{topology['work_ms']} ms of work each); {report['duration_s']} s",
        "",
        f"{'phase':<17}{'GET':>8}{'failed':>8}{'POST':>8}{'failed':>8}",
    ]
    for phase, methods in report["by_phase"].items():
        get_, post = methods["GET"], methods["POST"]
        lines.append(
            f"{phase:<17}{get_['requests']:>8}{get_['failures']:>8}"
            f"{post['requests']:>8}{post['failures']:>8}"
        )
    latency = report["latency_ms"]
    lines += [
        f"{'all':<17}{report['requests']:>8} requests, {report['failures']} failed",
        "",
        f"latency through nginx: p50 {latency['p50']} ms, p99 {latency['p99']} ms, "
        f"max {latency['max']} ms",
    ]
    for failure in report["failed_requests"]:
        lines.append(
            f"failed: {failure['method']} at {failure['at_s']} s ({failure['phase']}): "
            f"{failure['what']}"
        )
    for done in report["restarts"]:
        back = done["back_in_rotation_s"]
        lines.append(
            f"restart: replica {done['replica']} {done['signal']}, exit {done['exit_status']} "
            f"after {done['stopped_s']} s, ready {done['ready_s']} s after start, "
            + (f"back in rotation {back} s later" if back is not None else "not back in rotation")
        )
    if report["nginx_passed_over"]:
        counted = ", ".join(f"{kind} {n}" for kind, n in report["nginx_passed_over"].items())
        lines.append(f"nginx met at the replicas: {counted}")
    sequence = report["sequence"]
    lines.append(
        f"sequence walks ({','.join(map(str, sequence['entries']))}, "
        f"{sequence['requests_per_walk']} requests each): {sequence['walks']}, "
        f"{sequence['in_order']} in order, {sequence['across_replicas']} across 2+ replicas"
    )
    for walk in sequence["out_of_order"]:
        lines.append(f"out of order ({', '.join(walk['phases'])}): {walk['answers']}")
    logged = "; ".join(
        f"replica {number}: "
        + (", ".join(f"{address} {n}" for address, n in found.items()) or "none")
        for number, found in report["access_log"]["by_replica"].items()
    )
    lines.append(f"access logs, the rehearsal's lines by client address: {logged}")
    lines.append("")
    for check, held in report["checks"].items():
        lines.append(f"{'ok    ' if held else 'FAILED'} {check}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rehearse",
        description="Rehearse nginx, Redis and three replicas on loopback under load: a rolling "
        "restart, a kill -9, failure sequences and the access log.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds of steady load between phases"
    )
    parser.add_argument(
        "--kill-window", type=float, default=3.0, help="seconds a killed replica stays down"
    )
    arguments = parser.parse_args(argv)
    if arguments.threads < 1:
        parser.error("--threads must be at least 1")

    # SIGTERM unwinds like Ctrl-C, so that everything started is stopped.
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = rehearse(
            arguments.threads,
            arguments.settle,
            arguments.kill_window,
            progress=lambda text: print(f"rehearse: {text}", file=sys.stderr, flush=True),
        )
    except Unavailable as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if arguments.json else format_report(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
