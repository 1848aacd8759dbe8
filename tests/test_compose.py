"""deploy/compose.yaml run as it stands by Debian's podman and podman-compose.

No registry can be reached, so the images the file names are built here under
those names, in the session's buildah storage (the `image_build` fixture of
tests/conftest.py, shared with tests/test_image_build.py): the Dockerfile's
image, and stand-ins for the official nginx and Redis images made of Debian's
own nginx and redis-server on the same debootstrap base (deploy/standins/).
podman runs the stack from that storage.

The stack lives in a network and mount namespace of the test's own: its
bridge, firewall rules and port forwarding, and podman's run-time state and
locks (/run, /dev/shm) are there, so none of it touches the machine's network
or its configuration, and the containers reach no other host. nginx publishes
its port on that namespace's loopback, and the test's requests are sent from
there. podman's settings are files under the test's temporary directory,
named by CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.

podman schedules health checks with systemd timers, and there may be no
systemd to run them: the test runs each container's check itself (`podman
healthcheck run`) until every one passes, within a generous deadline.

Locally, missing programs or no root skip these tests; under CI=true they fail.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from simple_flask.testing.processes import free_port, wait_for
from tests.support import ROOT, skip_or_fail, unshare_problem
from tests.test_deploy import COMPOSE, compose_service, compose_services
from tests.test_image_build import base_name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

STANDINS = ROOT / "deploy" / "standins"
# podman-compose 1.0.3 does not read the file's `name:`, so it is given as -p.
PROJECT = yaml.safe_load(COMPOSE.read_text())["name"]
# Bound on starting the stack, and on every wait for it.
WAIT = 180
# iptables, which netavark runs, is in sbin.
PATH = f"{os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin"
PROGRAMS = ("podman", "podman-compose", "runc", "iptables", "ip", "nsenter")
# netavark (networks) and aardvark-dns (the service names on them), where
# Debian's podman looks for them.
NETWORKING = (Path("/usr/lib/podman/netavark"), Path("/usr/lib/podman/aardvark-dns"))
INSTALL = "apt-get install podman podman-compose runc netavark aardvark-dns iptables iproute2"
# The namespace's holder: podman's run-time state and locks in memory of the
# namespace's own, loopback up; it ends when the test closes its stdin.
HOLD = (
    "mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=1777 tmpfs /dev/shm"
    " && ip link set lo up && echo ready && exec cat >/dev/null"
)
# One GET from inside the namespace: its status, headers and body as JSON.
CLIENT = """
import http.client, json, sys
connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
connection.request("GET", sys.argv[2])
response = connection.getresponse()
body = response.read().decode("utf-8", "replace")
headers = {name.lower(): value for name, value in response.getheaders()}
print(json.dumps({"status": response.status, "headers": headers, "body": body}))
"""
CONTAINERS_CONF = """\
[containers]
# podman's defaults (a million open files and processes) are more than root
# may grant without CAP_SYS_RESOURCE, and runc then starts no container.
# Open files: as many as this process may have. Processes count per user on
# the whole machine (nginx's master runs as root): room for root's on a busy
# machine, and less than podman itself may start (at most 32768).
default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]

[engine]
# The runtime .ci/run installs; podman would take crun wherever it is installed.
runtime = "runc"
# No systemd to own the containers' cgroups, nor a journal for podman's events.
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
network_config_dir = "{networks}"
"""
STORAGE_CONF = """\
[storage]
driver = "vfs"
graphroot = "{graphroot}"
runroot = "{runroot}"
"""


def require_podman() -> None:
    """Skip (fail under CI=true) unless podman can run the stack in a namespace of its own."""
    problems = [
        f"{program} is not installed: {INSTALL}"
        for program in PROGRAMS
        if shutil.which(program, path=PATH) is None
    ]
    problems += [f"{path} is missing: {INSTALL}" for path in NETWORKING if not path.exists()]
    if os.geteuid() != 0:
        problems.append("podman runs the stack as root here")
    elif problem := unshare_problem("--net", "--mount"):
        problems.append(problem)
    if problems:
        skip_or_fail("; ".join(problems))


@dataclass
class Answer:
    """What nginx answered one GET."""

    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Stack:
    """The Compose project, run by podman-compose in the namespace `holder` keeps."""

    holder: subprocess.Popen
    env: dict[str, str]
    port: int
    timings: dict[str, float] = field(default_factory=dict)
    # From `up` on, until `down` has run.
    up: bool = False

    def run(self, *argv: str, check: bool = True, timeout: float = WAIT):
        """Run `argv` in the namespace with podman's settings; fail on an error if `check`."""
        command = ["nsenter", "--target", str(self.holder.pid), "--net", "--mount", *argv]
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, f"{argv[:4]}: {result.stdout[-2000:]}{result.stderr}"
        return result

    def compose(self, *arguments: str, check: bool = True):
        """Run podman-compose on deploy/compose.yaml (an absolute path: nsenter moves to /)."""
        return self.run(
            "podman-compose", "-p", PROJECT, "-f", str(COMPOSE), *arguments, check=check
        )

    def podman(self, *arguments: str) -> list[dict]:
        """The JSON a podman listing or inspection prints."""
        return json.loads(self.run("podman", *arguments, "--format", "json").stdout or "[]")

    def containers(self, service: str | None = None) -> list[dict]:
        """The project's containers (of `service` only, if given), as `podman ps` lists them."""
        found = self.podman("ps", "--all", "--filter", f"label=io.podman.compose.project={PROJECT}")
        return [c for c in found if service in (None, c["Labels"]["com.docker.compose.service"])]

    def get(self, path: str) -> Answer:
        """GET `path` from nginx, on the namespace's loopback."""
        result = self.run(sys.executable, "-c", CLIENT, str(self.port), path, check=False)
        if result.returncode != 0:
            raise ConnectionError(result.stderr.strip().splitlines()[-1:])
        return Answer(**json.loads(result.stdout))

    def logs(self, name: str) -> str:
        """What container `name` wrote to its stdout and stderr."""
        result = self.run("podman", "logs", name)
        return result.stdout + result.stderr

    def down(self, check: bool = True) -> None:
        """`podman-compose down`, and the project's networks, which podman-compose 1.0.3 keeps."""
        self.compose("down", check=check)
        label = f"label=io.podman.compose.project={PROJECT}"
        for network in self.podman("network", "ls", "--filter", label):
            self.run("podman", "network", "rm", network["name"], check=check)
        self.up = False


def wait_until_healthy(stack: Stack, up: str) -> None:
    """Run every health check the file defines until each container's has passed once.

    `up` is what `podman-compose up` printed, which tells why a container did
    not start: podman-compose 1.0.3 exits 0 all the same.
    """
    services = compose_services()
    checked = {name for name, service in services.items() if "healthcheck" in service}
    expected = sum(services[name].get("deploy", {}).get("replicas", 1) for name in checked)
    passed: set[str] = set()

    def all_passed() -> bool:
        for container in stack.containers():
            name = container["Names"][0]
            service = container["Labels"]["com.docker.compose.service"]
            if service in checked and name not in passed:
                if stack.run("podman", "healthcheck", "run", name, check=False).returncode == 0:
                    passed.add(name)
        return len(passed) == expected

    if not wait_for(all_passed, WAIT, interval=0.5):
        states = {c["Names"][0]: c["Status"] for c in stack.containers()}
        logs = [stack.logs(name)[-3000:] for name in states if name not in passed][:1]
        pytest.fail(f"not healthy in {WAIT} s: {states}\n{''.join(logs)}\n{up[-3000:]}")


@pytest.fixture(scope="module")
def standins(image_build) -> dict[str, str]:
    """The registry images the file names, built from deploy/standins/ on the session's base."""
    require_podman()
    images = {name: compose_services()[name]["image"] for name in ("nginx", "redis")}
    started = time.monotonic()
    # Both at once: each spends most of its time waiting for Debian's mirror.
    builds = {
        name: subprocess.Popen(
            image_build.bud_command(
                "--build-arg", f"BASE={base_name()}", "--tag", image, str(STANDINS / name)
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, image in images.items()
    }
    try:
        errors = {name: build.communicate(timeout=900)[1] for name, build in builds.items()}
    finally:
        for build in builds.values():
            if build.poll() is None:
                build.kill()
                build.communicate()
    for name, build in builds.items():
        assert build.returncode == 0, f"{STANDINS / name}: {errors[name][-3000:]}"
    image_build.timings["stand-ins"] = time.monotonic() - started
    return images


@pytest.fixture(scope="module")
def stack(image_build, standins, tmp_path_factory) -> Iterator[Stack]:
    """The project up and healthy under podman; brought down, whatever happened, at the end."""
    settings = tmp_path_factory.mktemp("podman")
    (settings / "networks").mkdir()
    containers_conf = settings / "containers.conf"
    containers_conf.write_text(
        CONTAINERS_CONF.format(
            nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            networks=settings / "networks",
        )
    )
    storage_conf = settings / "storage.conf"
    storage_conf.write_text(
        STORAGE_CONF.format(graphroot=image_build.graphroot, runroot=image_build.runroot)
    )
    # Every port of the namespace is free; one other than the file's default
    # shows that SIMPLE_FLASK_NGINX_PORT is read.
    port = free_port()
    env = {
        **os.environ,
        "PATH": PATH,
        "CONTAINERS_CONF": str(containers_conf),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
        "SIMPLE_FLASK_NGINX_PORT": str(port),
    }
    holder = subprocess.Popen(
        ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", HOLD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stack = Stack(holder, env, port)
    try:
        assert holder.stdout.readline() == "ready\n", holder.stderr.read()
        started = time.monotonic()
        stack.up = True
        up = stack.compose("up", "-d")
        wait_until_healthy(stack, up.stdout + up.stderr)
        # nginx has no health check of its own: it is up once it answers.
        assert wait_for(lambda: stack.get("/healthz").status == 200, WAIT, interval=0.5)
        stack.timings["up"] = time.monotonic() - started
        yield stack
    finally:
        try:
            if stack.up:
                stack.down(check=False)
            # Whatever down left, such as containers of a failed start.
            for leftover in (
                ("rm", "--all", "--force", "--time", "0"),
                ("pod", "rm", "--all", "--force"),
                ("network", "prune", "--force"),
                ("volume", "prune", "--force"),
            ):
                stack.run("podman", *leftover, check=False)
        finally:
            holder.stdin.close()
            try:
                holder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()
            holder.stdout.close()
            holder.stderr.close()


def test_podman_compose_reads_the_file():
    if shutil.which("podman-compose") is None:
        skip_or_fail(f"podman-compose is not installed: {INSTALL}")
    env = {**os.environ, "SIMPLE_FLASK_NGINX_PORT": "18000"}

    def podman_compose(*arguments: str) -> str:
        command = ["podman-compose", "-p", PROJECT, "-f", str(COMPOSE), *arguments]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr
        return result.stdout

    usage = subprocess.run(["podman-compose", "--help"], capture_output=True, text=True).stdout
    replicas = compose_service()["deploy"]["replicas"]
    if re.search(r"^\s+config\b", usage, re.MULTILINE):
        document = yaml.safe_load(podman_compose("config"))
        images = {name: service["image"] for name, service in document["services"].items()}
        assert images == {name: service["image"] for name, service in compose_services().items()}
        assert document["services"]["simple-flask"]["deploy"]["replicas"] == replicas
        assert "18000" in json.dumps(document["services"]["nginx"]["ports"])
    else:
        # podman-compose 1.0.3 has no config command; --dry-run prints the
        # podman commands `down` would run, one per container, running none.
        stopped = re.findall(
            r"^podman stop -t \d+ (\S+)$", podman_compose("--dry-run", "down"), re.M
        )
        assert sorted(stopped) == sorted(
            [f"{PROJECT}_nginx_1", f"{PROJECT}_redis_1"]
            + [f"{PROJECT}_simple-flask_{number}" for number in range(1, replicas + 1)]
        )


def test_the_standins_keep_what_the_file_relies_on():
    services = compose_services()
    # Redis: the user Compose runs it as exists, with the official image's ids.
    redis = (STANDINS / "redis" / "Containerfile").read_text()
    uid, gid = services["redis"]["user"].split(":")
    assert f"--uid {uid}" in redis and f"--gid {gid}" in redis
    assert services["redis"]["command"][0] == "redis-server"
    # nginx: the mounted site lands where nginx.conf includes it, and all that
    # nginx writes is on the file's tmpfs mounts of a read-only root.
    nginx_conf = (STANDINS / "nginx" / "nginx.conf").read_text()
    (volume,) = services["nginx"]["volumes"]
    site = Path(volume.split(":")[1])
    assert f"include {site.parent}/*.conf;" in nginx_conf
    written = re.findall(r"^\s*(?:pid|\w+_temp_path)\s+(\S+);", nginx_conf, re.MULTILINE)
    assert len(written) == 6, written
    tmpfs = [Path(mount) for mount in services["nginx"]["tmpfs"]]
    for path in map(Path, written):
        assert any(path.is_relative_to(mount) for mount in tmpfs), path


def test_every_replica_nginx_and_redis_run_healthy_on_a_read_only_root(stack, image_build):
    running = Counter(
        container["Labels"]["com.docker.compose.service"]
        for container in stack.containers()
        if container["State"] == "running"
    )
    replicas = compose_service()["deploy"]["replicas"]
    assert running == {"simple-flask": replicas, "nginx": 1, "redis": 1}
    for container in stack.containers():
        (inspected,) = stack.podman("inspect", container["Id"])
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True, container["Names"]
        if container["Labels"]["com.docker.compose.service"] == "redis":
            assert inspected["Config"]["User"] == compose_services()["redis"]["user"]
    (nginx,) = stack.containers("nginx")
    (published,) = nginx["Ports"]
    assert (published["host_ip"], published["host_port"]) == ("127.0.0.1", stack.port)
    assert published["container_port"] == 80
    timings = {**image_build.timings, **stack.timings}
    print(", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))


def test_the_greeting_answers_through_nginx(stack):
    answer = stack.get("/Kalimaha/")
    assert (answer.status, answer.body) == (200, "Hallo Kalimaha from CORE!")
    assert answer.headers["server"].startswith("nginx/")


def test_a_sequence_walks_across_the_replicas_in_the_shared_redis(stack):
    key = f"compose-{uuid.uuid4().hex[:12]}"
    answers = [stack.get(f"/status/503,503,200?sequence={key}") for _ in range(3)]
    assert [answer.status for answer in answers] == [503, 503, 200]
    assert [answer.headers["x-sequence-attempt"] for answer in answers] == ["1", "2", "3"]
    # Which replica served each request: its access log has the request's id,
    # in a line the replica may write just after its answer.
    ids = {answer.headers["x-request-id"] for answer in answers}
    served, clients = {}, set()

    def all_logged() -> bool:
        for container in stack.containers("simple-flask"):
            for line in stack.logs(container["Names"][0]).splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("request_id") in ids:
                    served[entry["request_id"]] = container["Names"][0]
                    clients.add(entry["client"])
        return set(served) == ids

    assert wait_for(all_logged, WAIT, interval=0.5), (served, ids)
    # nginx spreads them: one walk, counted in Redis, across replicas.
    assert len(set(served.values())) >= 2, served
    # The replicas log the client nginx saw (from X-Forwarded-For), not nginx.
    (nginx,) = stack.containers("nginx")
    (inspected,) = stack.podman("inspect", nginx["Id"])
    nginx_addresses = {n["IPAddress"] for n in inspected["NetworkSettings"]["Networks"].values()}
    assert len(clients) == 1 and not clients & nginx_addresses, (clients, nginx_addresses)


def test_down_leaves_no_container_pod_volume_or_network(stack):
    stack.down()
    assert stack.podman("ps", "--all") == []
    assert stack.podman("pod", "ps") == []
    assert stack.podman("volume", "ls") == []
    # podman's default network, which it lists whether or not one was made.
    assert [network["name"] for network in stack.podman("network", "ls")] == ["podman"]
