"""The service runs on a read-only filesystem as an unprivileged user: it writes nothing to disk.

Two independent checks. The first runs start.py as uid 65534 from a copy of
the tree, in a private mount namespace where every mount, /tmp included, is
read-only, as with Kubernetes' readOnlyRootFilesystem and no writable volume.
The second needs no privilege: it serves through an audit hook that reports
every attempt to open a file for writing or to change the filesystem, so a
write that would fail quietly on a read-only disk is still seen.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from simple_flask.core.settings import Settings
from tests.support import ROOT, docs_assets, running_server, skip_or_fail

pytestmark = pytest.mark.slow

NOBODY = 65534
CAP_DAC_READ_SEARCH = 2
# What the image holds of the checkout, and so what the service may need at run time.
TREE = ("start.py", "simple_flask", "simple_flask_blueprint")
# A body of nearly the largest size the service accepts.
LARGE_BODY = b"x" * (Settings().max_request_body - 1024)

# Run as root inside the new mount namespace: make every mount read-only,
# then become `command`. It refuses to run in the namespace it was started
# from, so it can never make the machine's own filesystems read-only.
SANDBOX = """\
import os, subprocess, sys

host_namespace, *command = sys.argv[1:]
if os.readlink("/proc/self/ns/mnt") == host_namespace:
    sys.exit("sandbox: not in a mount namespace of its own; nothing was changed")
with open("/proc/self/mountinfo") as mounts:
    points = [line.split()[4] for line in mounts]
for point in points:
    # mountinfo writes a space in a path as \\040 and so on.
    point = point.encode().decode("unicode_escape")
    result = subprocess.run(["mount", "-o", "remount,bind,ro", point], capture_output=True)
    if result.returncode:
        sys.exit(f"sandbox: cannot make {point} read-only: {result.stderr.decode().strip()}")
os.execvp(command[0], command)
"""

# Run in the sandbox as the service's user: who it is, what it runs, what it could write.
PROBE = """\
import json, os, sys, tempfile

import flask
import simple_flask
import simple_flask_blueprint

copy = sys.argv[1]
targets = {
    "the copy": os.path.join(copy, "written"),
    "a package of the copy": os.path.join(copy, "simple_flask", "written"),
    "/tmp": "/tmp/simple_flask_written",
    "/dev/shm": "/dev/shm/simple_flask_written",
}
written = []
for name, path in targets.items():
    try:
        with open(path, "w") as handle:
            handle.write("x")
        written.append(name)
    except OSError:
        pass
try:
    tempfile.TemporaryFile()
    written.append("a temporary file")
except OSError:
    pass
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "capabilities": int(status["CapEff"], 16), "no_new_privs": status["NoNewPrivs"].strip(),
    "version": sys.version, "prefix": sys.prefix,
    "modules": [simple_flask.__file__, simple_flask_blueprint.__file__],
    "flask": flask.__file__, "written": written,
}))
"""

# Serves start.py with an audit hook that reports every write to the filesystem.
AUDITED_START = """\
import os, runpy, sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {
    "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.link", "os.symlink",
    "os.truncate", "os.chmod", "os.chown", "os.utime", "os.mkfifo", "os.mknod",
    "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
    "shutil.move", "shutil.rmtree", "shutil.chown", "shutil.make_archive",
    "tempfile.mkstemp", "tempfile.mkdtemp",
}


def hook(event, arguments):
    if event == "open":
        path, mode, flags = arguments
        writes = bool(flags & WRITE_FLAGS) or any(c in (mode or "") for c in "wax+")
        if writes and not isinstance(path, int):
            os.write(2, f"WRITE-ATTEMPT open {path!r} {mode!r}\\n".encode())
    elif event in CHANGES:
        os.write(2, f"WRITE-ATTEMPT {event} {arguments!r}\\n".encode())


sys.addaudithook(hook)
script = sys.argv[1]
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def unavailable(reason: str) -> None:
    """Skip for want of a tool or privilege; in CI, fail instead, since the check must run."""
    skip_or_fail(reason)


def copy_tree(destination: Path) -> Path:
    """Copy what the service runs from to `destination`, without bytecode, read-only for all."""
    copy = destination / "app"
    copy.mkdir()
    for name in TREE:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
            shutil.copytree(source, copy / name, ignore=ignore)
        else:
            shutil.copy2(source, copy / name)
    for directory, _folders, files in os.walk(copy):
        for name in files:
            os.chmod(os.path.join(directory, name), 0o444)
        os.chmod(directory, 0o555)
    return copy


def post_large_bodies(server) -> list[int]:
    """POST LARGE_BODY with a Content-Length and then chunked; return the two statuses.

    waitress reads a whole body before the app sees it, into a different
    buffer for each framing; any answer but a 5xx or a dropped connection
    means it found room for the body.
    """
    statuses = [server.request("POST", "/", body=LARGE_BODY)[0].status]
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        half = len(LARGE_BODY) // 2
        connection.request(
            "POST", "/", body=iter([LARGE_BODY[:half], LARGE_BODY[half:]]), encode_chunked=True
        )
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    finally:
        connection.close()
    return statuses


def get_paths(app) -> list[str]:
    """A request path for every GET route of the app, each URL variable filled with 200."""
    rules = app.url_map.iter_rules()
    return sorted({re.sub(r"<[^>]+>", "200", rule.rule) for rule in rules if "GET" in rule.methods})


def answers_everything(server, app) -> None:
    """Ask every GET route for plain text and for JSON; fail on a 5xx."""
    for path in get_paths(app):
        for accept in ("text/plain", "application/json"):
            response, _ = server.request("GET", path, headers={"Accept": accept})
            assert response.status < 500, path


def listing(tree: Path) -> list[str]:
    """Every path under `tree`, to see that nothing was added."""
    return sorted(str(path.relative_to(tree)) for path in tree.rglob("*"))


@pytest.fixture(scope="module")
def sandbox():
    """A read-only copy of the tree and the command prefix that runs a program on it as nobody.

    The process keeps one capability, CAP_DAC_READ_SEARCH: it may read any
    file, never write one. The interpreter may live where only root may look
    (pyenv puts it under /root, which is 0700); without it, nobody could not
    start this very interpreter. Every mount is read-only to it regardless.
    """
    if os.geteuid() != 0:
        unavailable("making a read-only mount namespace and changing user need root")
    missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (Debian package util-linux)")
    trial = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if trial.returncode:
        unavailable(f"unshare --mount failed: {trial.stderr.strip()}")
    base = Path(tempfile.mkdtemp(prefix="simple_flask_read_only_"))
    try:
        base.chmod(0o755)
        copy = copy_tree(base)
        helper = base / "sandbox.py"
        helper.write_text(SANDBOX)
        helper.chmod(0o444)
        prefix = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            str(helper),
            os.readlink("/proc/self/ns/mnt"),
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--inh-caps=-all,+dac_read_search",
            "--ambient-caps=+dac_read_search",
            "--bounding-set=-all,+dac_read_search",
            "--no-new-privs",
            "--",
        ]
        yield copy, prefix
    finally:
        shutil.rmtree(base)


def sandbox_env() -> dict[str, str]:
    """The environment of a sandboxed process: no home to write to, no bytecode to write."""
    return {"HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}


def test_the_sandbox_is_nobody_on_a_read_only_filesystem(sandbox):
    copy, prefix = sandbox
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SIMPLE_FLASK_")
    }
    result = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, str(copy)],
        cwd=copy,
        env={**environment, **sandbox_env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["uid"], seen["euid"], seen["gid"], seen["groups"]) == (NOBODY, NOBODY, NOBODY, [])
    assert seen["capabilities"] == 1 << CAP_DAC_READ_SEARCH
    assert seen["no_new_privs"] == "1"
    assert seen["written"] == [], "the sandbox let these be written"
    # The interpreter and packages of this test run, and the code of the copy.
    assert (seen["version"], seen["prefix"]) == (sys.version, sys.prefix)
    assert all(path.startswith(f"{copy}/") for path in seen["modules"]), seen["modules"]
    assert not seen["flask"].startswith(str(copy))


def test_start_py_serves_from_a_read_only_tree_as_nobody(sandbox, app):
    copy, prefix = sandbox
    before = listing(copy)
    assert not [path for path in before if "__pycache__" in path or path.endswith(".pyc")]
    command = [*prefix, sys.executable, str(copy / "start.py")]
    with running_server(command=command, env=sandbox_env(), cwd=copy) as server:
        response, body = server.request("GET", "/Kalimaha/")
        assert (response.status, body) == (200, b"Hallo Kalimaha from CORE!")
        response, body = server.request(
            "GET", "/blueprint/Kalimaha/", headers={"Accept": "application/json"}
        )
        assert json.loads(body) == {"message": "Hallo Kalimaha!"}
        response, _ = server.request("GET", "/" + "x" * 101 + "/")
        assert response.status == 400
        answers_everything(server, app)
    stdout, stderr = server.output()
    assert "Traceback" not in stdout + stderr
    assert "Read-only file system" not in stdout + stderr
    assert listing(copy) == before


def test_a_large_request_body_is_buffered_in_memory_on_a_read_only_filesystem(sandbox):
    copy, prefix = sandbox
    command = [*prefix, sys.executable, str(copy / "start.py")]
    with running_server(command=command, env=sandbox_env(), cwd=copy) as server:
        assert all(status < 500 for status in post_large_bodies(server))
        response, body = server.request("GET", "/")
        assert (response.status, body) == (200, b"Hallo from CORE!")
    stdout, stderr = server.output()
    assert "No usable temporary directory" not in stderr
    assert "Traceback" not in stdout + stderr


def audited_server(tmp_path):
    """Serve start.py through the audit hook; see running_server()."""
    wrapper = tmp_path / "audited_start.py"
    wrapper.write_text(AUDITED_START)
    command = [sys.executable, str(wrapper), str(ROOT / "start.py")]
    return running_server(command=command, env={"PYTHONDONTWRITEBYTECODE": "1"})


def write_attempts(server) -> list[str]:
    """What the audit hook reported of a stopped server."""
    _, stderr = server.output()
    return [line for line in stderr.splitlines() if line.startswith("WRITE-ATTEMPT")]


def test_serving_every_route_writes_nothing_to_disk(tmp_path, app):
    with audited_server(tmp_path) as server:
        answers_everything(server, app)
        server.request("GET", "/missing")
    assert not write_attempts(server), "\n".join(write_attempts(server))


def test_the_largest_answers_are_not_written_to_disk(tmp_path):
    """A body of the largest ?size= and every asset of /docs, well over waitress's 1 MiB."""
    largest = Settings().max_answer_size
    with audited_server(tmp_path) as server:
        response, body = server.request("GET", f"/status/200;size={largest}")
        assert (response.status, len(body)) == (200, largest)
        sizes = [len(body) for body in docs_assets(server).values()]
        # Swagger UI's script is larger than waitress's in-memory output buffer.
        assert max(sizes) > 1024 * 1024, sizes
    assert not write_attempts(server), "\n".join(write_attempts(server))


def test_a_large_request_body_is_not_written_to_disk(tmp_path):
    with audited_server(tmp_path) as server:
        assert all(status < 500 for status in post_large_bodies(server))
    assert not write_attempts(server), "\n".join(write_attempts(server))


def test_the_audit_hook_sees_a_write(tmp_path):
    # The hook above must be able to fail: a program that writes is reported.
    wrapper = tmp_path / "audited_start.py"
    wrapper.write_text(AUDITED_START)
    writer = tmp_path / "writer.py"
    writer.write_text(
        "import tempfile\nwith tempfile.TemporaryFile() as handle:\n    handle.write(b'x')\n"
    )
    result = subprocess.run(
        [sys.executable, str(wrapper), str(writer)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "WRITE-ATTEMPT" in result.stderr
