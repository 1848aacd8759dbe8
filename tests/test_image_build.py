"""The image built for real by buildah, and run from its own root file system.

No registry can be reached, so the Dockerfile's base image is a stand-in made
by .ci/base-image (Debian bookworm with its python3, cached per machine) and
tagged with the FROM name; `buildah bud --pull-never` then builds the
Dockerfile unchanged, with pip fetching from PyPI. The built image's own CMD,
USER, ENV, WORKDIR and HEALTHCHECK, read back with `buildah inspect`, run
with the image's root file system as their root (read-only, in a mount
namespace of their own) and without a container engine.

Everything lives in a buildah storage of its own in a temporary directory,
removed at the end. The build is the session's `image_build` fixture
(tests/conftest.py), made by `built_image` below, so that tests/test_compose.py
runs the same image without building it again. Locally, missing tools skip
these tests; under CI=true they fail.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import simple_flask
from tests.support import LOOPBACK, ROOT, launched_until_healthy, skip_or_fail, unshare_problem
from tests.test_dockerfile import exec_form, stages

# Building takes minutes when the stand-in base is not cached yet.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BASE_IMAGE_SCRIPT = ROOT / ".ci" / "base-image"
# The name deploy/compose.yaml runs it under.
TAG = f"localhost/simple-flask:{simple_flask.__version__}"
LAUNCHER = ROOT / "tests" / "rehearsal_launcher.py"
# The environment at /opt/venv: docs/operations.md says about 15 MB (14.9
# measured, of which redis-py, for sequences shared through Redis, is about
# 6); no pip, no compiler output, no caches may push it past this.
VENV_LIMIT_MB = 20


def require_tools() -> None:
    """Skip (fail under CI=true) unless buildah, debootstrap and unshare can do their work."""
    problems = [
        f"{tool} is not installed: apt-get install {tool}"
        for tool in ("buildah", "debootstrap")
        if shutil.which(tool) is None
    ]
    if os.geteuid() != 0:
        problems.append("building with buildah's vfs driver and entering the image needs root")
    elif problem := unshare_problem("--mount", "--propagation", "private"):
        problems.append(problem)
    if problems:
        message = "; ".join(problems)
        skip_or_fail(message)


def base_name() -> str:
    """The Dockerfile's base image, spelt out in full as buildah stores it."""
    base = stages()[-1].base
    assert "/" not in base.split(":")[0], base
    return f"docker.io/library/{base}"


@dataclass
class Image:
    """The built image: its config, its root file system, and the buildah that holds them."""

    buildah: list[str]
    config: dict
    root: Path
    timings: dict[str, float]

    def env(self, **extra: str) -> dict[str, str]:
        """The image's ENV, as a container engine would start a process with it."""
        # Docker adds HOME: the user's home in the image's /etc/passwd, or /.
        uid, _ = self.user()
        homes = [
            fields[5]
            for line in (self.root / "etc" / "passwd").read_text().splitlines()
            if len(fields := line.split(":")) > 5 and fields[2] == str(uid)
        ]
        env = {"HOME": homes[0] if homes else "/"}
        env.update(entry.split("=", 1) for entry in self.config["Env"])
        env.update(extra)
        return env

    def user(self) -> tuple[int, int]:
        """The numeric uid and gid of the image's USER."""
        user, _, group = self.config["User"].partition(":")
        assert user.isdigit() and group.isdigit(), self.config["User"]
        return int(user), int(group)

    def popen(self, argv: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        """Start `argv` as the image's USER in its WORKDIR, its root file system as root."""
        uid, gid = self.user()
        spec = {
            "root": str(self.root),
            "image": True,
            "binds": [],
            "workdir": self.config["WorkingDir"],
            "uid": uid,
            "gid": gid,
            "argv": argv,
            "env": env,
        }
        spec_path = self.root.parent / f"spec-{time.monotonic_ns()}.json"
        spec_path.write_text(json.dumps(spec))
        return subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", sys.executable, str(LAUNCHER),
             str(spec_path)],
            **kwargs,
        )  # fmt: skip

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 30):
        """Run `argv` inside the image to completion."""
        process = self.popen(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _run(command: list[str], timeout: float) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command[:6]}...: {result.stderr[-3000:]}"
    return result.stdout


@dataclass
class Build:
    """The stand-in base and the Dockerfile's image, in a buildah storage of their own."""

    storage: Path
    timings: dict[str, float]
    tag: str = TAG

    @property
    def graphroot(self) -> Path:
        """Where the images' layers are (storage.conf's graphroot)."""
        return self.storage / "root"

    @property
    def runroot(self) -> Path:
        """Where the storage keeps its run-time state (storage.conf's runroot)."""
        return self.storage / "run"

    @property
    def options(self) -> list[str]:
        """The global options that point buildah (or podman) at this storage."""
        root, run = str(self.graphroot), str(self.runroot)
        return ["--root", root, "--runroot", run, "--storage-driver", "vfs"]

    @property
    def buildah(self) -> list[str]:
        """buildah, working in this storage."""
        return ["buildah", *self.options]

    def bud_command(self, *arguments: str) -> list[str]:
        """`buildah bud ARGUMENTS` in this storage, offline but for what its RUN steps fetch."""
        command = [*self.buildah, "bud", "--pull-never", "--isolation", "chroot"]
        # --format docker keeps HEALTHCHECK, which the OCI format has no field
        # for. The build trusts the certificates this machine trusts, for
        # pip's and apt's downloads, without copying them into any layer.
        command += ["--format", "docker"]
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            command += ["--volume", f"{bundle}:{bundle}:ro"]
        return [*command, *arguments]

    def bud(self, *arguments: str, timeout: float = 900) -> str:
        """Run `buildah bud ARGUMENTS` in this storage; return its output."""
        return _run(self.bud_command(*arguments), timeout=timeout)


@contextmanager
def built_image(storage: Path) -> Iterator[Build]:
    """Build the stand-in base and the Dockerfile in `storage`; remove both afterwards."""
    require_tools()
    build = Build(storage, {})
    try:
        started = time.monotonic()
        _run([str(BASE_IMAGE_SCRIPT), base_name(), *build.options], timeout=1200)
        build.timings["base"] = time.monotonic() - started
        started = time.monotonic()
        build.bud("--tag", build.tag, "--file", str(ROOT / "Dockerfile"), str(ROOT))
        build.timings["build"] = time.monotonic() - started
        yield build
    finally:
        remove = [*build.buildah, "rmi", "--all", "--force"]
        subprocess.run(remove, capture_output=True, timeout=300)
        shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(scope="module")
def image(image_build):
    """The session's build of the Dockerfile (tests/conftest.py), its container mounted."""
    buildah = image_build.buildah
    container = None
    try:
        inspected = json.loads(
            _run([*buildah, "inspect", "--type", "image", image_build.tag], timeout=60)
        )
        container = _run([*buildah, "from", "--pull-never", image_build.tag], timeout=120).strip()
        root = Path(_run([*buildah, "mount", container], timeout=60).strip())
        yield Image(buildah, inspected["Docker"]["config"], root, image_build.timings)
    finally:
        if container:
            subprocess.run([*buildah, "umount", container], capture_output=True, timeout=60)
            subprocess.run([*buildah, "rm", container], capture_output=True, timeout=60)


def test_the_image_has_the_dockerfiles_config(image):
    final = stages()[-1]
    assert image.config["Cmd"] == exec_form(final.last("CMD"))
    assert not image.config.get("Entrypoint")
    assert image.config["User"] == final.last("USER")
    assert image.config["WorkingDir"] == final.last("WORKDIR")
    assert image.env()["PATH"].split(":")[0] == "/opt/venv/bin"
    test = image.config["Healthcheck"]["Test"]
    assert test[0] == "CMD" and test[1:] == ["simple-flask", "healthcheck"]


def test_the_image_serves_as_its_user_and_its_healthcheck_passes(image, tmp_path):
    def start(port, stdout, stderr):
        # As `docker run -e HOST=127.0.0.1 -e PORT=...` would: loopback only, here.
        env = image.env(HOST=LOOPBACK, PORT=str(port))
        return image.popen(image.config["Cmd"], env, stdout=stdout, stderr=stderr)

    with launched_until_healthy(start, tmp_path) as server:
        env = image.env(HOST=LOOPBACK, PORT=str(server.port))
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        ids = {line.split(":")[0]: line.split()[1:] for line in status.splitlines()}
        uid, gid = image.user()
        assert ids["Uid"] == [str(uid)] * 4
        assert ids["Gid"] == [str(gid)] * 4
        # Its root is the image's, not the host's.
        assert os.readlink(f"/proc/{server.process.pid}/root") == str(image.root)
        response, body = server.request("GET", "/healthz")
        assert (response.status, json.loads(body)) == (200, {"status": "ok"})
        response, body = server.request("GET", "/Kalimaha/")
        assert (response.status, body) == (200, b"Hallo Kalimaha from CORE!")
        healthcheck = image.run(image.config["Healthcheck"]["Test"][1:], env)
        assert healthcheck.returncode == 0, healthcheck.stderr
        assert server.stop() == 0
    # With the server gone, the same health check reports it.
    assert image.run(image.config["Healthcheck"]["Test"][1:], env).returncode != 0
    lines = [json.loads(line) for line in server.stdout_path.read_text().splitlines()]
    assert {"GET /Kalimaha/ 200"} <= {f"{x['method']} {x['path']} {x['status']}" for x in lines}
    assert "Traceback" not in server.stderr_path.read_text()


def test_the_code_is_not_writable_by_the_user_that_runs_it(image):
    env = image.env()
    for path in ("/app/start.py", "/opt/venv/bin/injected", "/tmp/x"):
        attempt = image.run(["python", "-c", f"open({path!r}, 'a')"], env)
        # A read-only root: not even /tmp takes a file.
        assert attempt.returncode == 1, path
        assert re.search(r"(PermissionError|OSError: \[Errno 30\])", attempt.stderr), path
    for path in ("opt/venv", "app/start.py"):
        assert (image.root / path).stat().st_uid == 0


def test_the_environment_holds_no_installer(image):
    venv = image.root / "opt" / "venv"
    assert not list(venv.glob("bin/pip*"))
    assert not list(venv.glob("lib/python3*/site-packages/pip"))
    # The interpreter the environment links to is the base image's own.
    assert (venv / "bin" / "python").is_symlink()
    target = os.readlink(venv / "bin" / "python")
    assert (image.root / target.lstrip("/")).exists(), target


def test_the_environment_is_small(image):
    venv = image.root / "opt" / "venv"
    size = sum(path.lstat().st_size for path in venv.rglob("*") if not path.is_dir())
    megabytes = size / 1e6
    print(
        f"/opt/venv: {megabytes:.1f} MB; stand-in base {image.timings['base']:.0f} s,"
        f" buildah bud {image.timings['build']:.0f} s"
    )
    assert 1 < megabytes < VENV_LIMIT_MB, f"{megabytes:.1f} MB"
