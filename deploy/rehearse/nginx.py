"""nginx in front of the replicas: the shipped site rendered for loopback, and nginx running it."""

import contextlib
import os
import pwd
import re
import signal
import socket
import subprocess
from pathlib import Path

from simple_flask.testing.processes import LOOPBACK, free_port, stop, wait_for

from .programs import READY_TIMEOUT, ROOT, STOP_TIMEOUT, Unavailable, find_program

NGINX_SITE = ROOT / "deploy" / "nginx" / "simple_flask.conf"
# The lines of the shipped site that name the replicas and nginx's port;
# everything else runs as shipped, the upstream line's parameters
# (max_fails=0) too, on every replica's line.
UPSTREAM_LINE = re.compile(r"^(\s*)server simple-flask:8080((?: [^ ;]+)*);$", re.MULTILINE)
LISTEN_LINE = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
# What nginx's error log says when it passes over a replica, by kind.
PASSED_OVER = {
    "connection refused": "(111: Connection refused)",
    "connection reset": "(104: Connection reset by peer)",
    "closed early": "upstream prematurely closed",
    "no live upstreams": "no live upstreams",
}
# What it says when it refuses a request for a per-client limit (at info, the
# level of the error log render_main() keeps).
LIMITED = {
    "requests over the rate": "limiting requests",
    "requests over the connections": "limiting connections",
}


def render_site(upstreams: list[str], listen: str) -> str:
    """The shipped site with one upstream `server` line per replica, each with the shipped
    line's parameters, and the given listen address."""
    text = NGINX_SITE.read_text()
    text, found = UPSTREAM_LINE.subn(
        lambda match: "\n".join(
            f"{match.group(1)}server {address}{match.group(2)};" for address in upstreams
        ),
        text,
    )
    if found != 1:
        raise ValueError(f"{NGINX_SITE}: the `server simple-flask:8080 ...;` line has changed")
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


def accepts(port: int) -> bool:
    """Whether something accepts connections on loopback:`port`."""
    with socket.create_connection((LOOPBACK, port), timeout=1):
        return True


class Nginx:
    """Debian's nginx in front of the replicas on `upstreams` (loopback ports), on a free
    loopback port, its files in `prefix`."""

    def __init__(self, prefix: Path, upstreams: list[int]):
        self.prefix = prefix
        self.port = free_port()
        site = prefix / "simple_flask.conf"
        site.write_text(render_site([f"{LOOPBACK}:{port}" for port in upstreams], self.address))
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(render_main(prefix, site))
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def command(self, *extra: str) -> list[str]:
        prefix = str(self.prefix)
        error_log = str(self.prefix / "error.log")
        return [find_program("nginx"), *extra, "-p", prefix, "-e", error_log, "-c", str(self.conf)]

    def start(self) -> None:
        """Check the configuration, start nginx and return once it listens; or raise Unavailable."""
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
        if not wait_for(lambda: accepts(self.port), READY_TIMEOUT, self.process):
            raise Unavailable(f"nginx did not listen: {self.prefix / 'nginx.stderr'}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, STOP_TIMEOUT)
            # A worker left by a master that had to be killed.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def logged(self, kinds: dict[str, str]) -> dict[str, int]:
        """How many lines of nginx's error log name each kind of `kinds` (PASSED_OVER, LIMITED)."""
        log = (self.prefix / "error.log").read_text(errors="replace")
        return {kind: log.count(text) for kind, text in kinds.items() if text in log}
