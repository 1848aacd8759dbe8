"""The supported range of the dependencies, proved on its lowest and highest ends and on the next.

For each end a new virtual environment gets the project from a git clone
(`pip install "flask==X" "git+file://..."`, as a user pins it), with the
end's versions pinned. In it run the blueprint tests, the host-app tests
(one of them through a real server), the server tests (the start-up proofs
and what they prove, the copy of waitress's received() held to waitress's
own) and `simple-flask serve`, the create_app() service, answering over
loopback. The lowest end holds every lower bound of setup.py, so the bounds
are what is tested; the highest is what requirements.txt pins.

"next" is the unreleased waitress and Flask, from source snapshots
(NEXT_SNAPSHOTS), with the rest as requirements.txt pins them: there the
whole suite runs (all but NEXT_LEFT_OUT, whose outcome does not depend on
the environment), with warnings as errors as everywhere.
Environments are built once per session.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.support import ROOT, docs_assets, exchange, running_server, skip_or_fail

pytestmark = pytest.mark.slow

# The runtime requirements whose lower bounds setup.py declares.
RUNTIME = (
    "Flask",
    "Werkzeug",
    "flask-cors",
    "waitress",
    "PyYAML",
    "redis",
    "async-timeout",
    "flask-swagger-ui",
)
# What the suite in each environment needs besides the project.
TEST_TOOLS = ("pytest", "pytest-timeout", "hypothesis", "flask-wtf")
# The tests that run in each environment, against the installed packages.
MATRIX_TESTS = (
    "tests/simple_flask_blueprint",
    "tests/test_host_apps.py",
    "tests/simple_flask/server",
)
INSTALL_TIMEOUT = 400
# Where the source snapshots of the next waitress and Flask are looked for, in
# order: SIMPLE_FLASK_NEXT (a directory), then a shared/next directory beside
# or above the checkout.
NEXT_VARIABLE = "SIMPLE_FLASK_NEXT"
NEXT_SNAPSHOTS = {"waitress": "waitress-main-*.tar.gz", "Flask": "flask-main-*.tar.gz"}
# What "next" leaves out of the whole suite: this matrix, and the tests whose
# outcome does not depend on the environment they run in, so they run once, in
# the main one. Those build their own environment from requirements.txt,
# whatever this one holds (the image, the Compose stack, the installs of the
# packaging checks), or read files only (lint, the Dockerfile, the manifests).
NEXT_LEFT_OUT = (
    "tests/test_compat.py",
    "tests/test_image_build.py",
    "tests/test_compose.py",
    "tests/test_packaging.py",
    "tests/test_dockerfile.py",
    "tests/test_lint.py",
    "tests/test_deploy.py",
)
# "next" runs its suite in two parts at once, one for each core: the tests of
# the packages' parts, in process, beside the tests that start servers, load
# them and build environments, which mostly wait.
NEXT_PARTS = (
    ("tests/simple_flask", "tests/simple_flask_blueprint"),
    ("tests",),
)


def lower_bounds() -> dict[str, str]:
    """The `Name>=version` lower bound of each runtime requirement in setup.py."""
    text = (ROOT / "setup.py").read_text()
    text = text[text.index("install_requires=[") :]
    text = text[: text.index("]")]
    bounds = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)', text))
    return {name: bounds[name] for name in RUNTIME}


def pinned() -> dict[str, str]:
    """The version requirements.txt pins for each runtime requirement."""
    text = (ROOT / "requirements.txt").read_text()
    pins = {
        name.lower(): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }
    return {name: pins[name.lower()] for name in RUNTIME}


def next_snapshots() -> dict[str, Path] | None:
    """The snapshot archive of each of NEXT_SNAPSHOTS, or None where they are not found."""
    places = [Path(os.environ[NEXT_VARIABLE])] if os.environ.get(NEXT_VARIABLE) else []
    places += [parent / "shared" / "next" for parent in ROOT.parents]
    for place in places:
        found = {name: sorted(place.glob(pattern)) for name, pattern in NEXT_SNAPSHOTS.items()}
        if all(found.values()):
            return {name: paths[-1] for name, paths in found.items()}
    return None


def next_pins() -> dict[str, str]:
    """requirements.txt's pins, with waitress and Flask as the snapshots (paths, not versions)."""
    snapshots = next_snapshots()
    if snapshots is None:
        skip_or_fail(
            f"the next waitress and Flask snapshots ({', '.join(NEXT_SNAPSHOTS.values())}) "
            f"are in no shared/next above the checkout, and {NEXT_VARIABLE} is unset"
        )
    pins = pinned()
    return {**pins, **{name: str(path) for name, path in snapshots.items()}}


PAIRS = {"lowest": lower_bounds, "highest": pinned, "next": next_pins}


def requirement(name: str, version: str) -> str:
    """A pip requirement for `name` at `version`, or the archive `version` names."""
    return version if version.endswith(".tar.gz") else f"{name}=={version}"


@pytest.fixture(scope="session")
def git_source(tmp_path_factory) -> Path:
    """A git repository holding the checkout's files as they are now, committed.

    `git+file://` installs what is committed; copying the working tree (tracked
    files and new ones not ignored) lets uncommitted changes be tested too.
    """
    source = tmp_path_factory.mktemp("source") / "simple_flask"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        origin = ROOT / name
        if origin.is_file():
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@localhost", "-C", str(source)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    return source


def new_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path / "bin" / "python"


def pip_install(python: Path, *requirements: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", *requirements],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )


@pytest.fixture(scope="session")
def environments(tmp_path_factory, git_source):
    """f(end): the (pins, python, test directory) of that end's environment, built once."""
    built: dict[str, tuple[dict[str, str], Path, Path]] = {}

    def environment(end: str) -> tuple[dict[str, str], Path, Path]:
        if end not in built:
            built[end] = build_environment(end, tmp_path_factory, git_source)
        return built[end]

    return environment


@pytest.fixture(scope="session", params=list(PAIRS))
def matrix_env(request, environments) -> tuple[dict[str, str], Path, Path]:
    """(pins, python, test directory) of a fresh environment for one end of the range."""
    return environments(request.param)


def build_environment(end, tmp_path_factory, git_source) -> tuple[dict[str, str], Path, Path]:
    """Build the environment of `end`: its pins, the project from git, the test tools."""
    pins = PAIRS[end]()
    home = tmp_path_factory.mktemp(f"compat-{end}")
    python = new_venv(home / "env")
    result = pip_install(
        python,
        *(requirement(name, version) for name, version in pins.items()),
        f"git+file://{git_source}",
        *TEST_TOOLS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The tests alone, beside the pytest settings: `simple_flask` must come
    # from the environment, not from a source tree next to the tests.
    tests = home / "run"
    shutil.copytree(git_source / "tests", tests / "tests")
    shutil.copy2(git_source / "pyproject.toml", tests / "pyproject.toml")
    # The container's entry point, which the serving tests start: it imports the package.
    shutil.copy2(git_source / "start.py", tests / "start.py")
    return pins, python, tests


def run(python: Path, *arguments: str, cwd: Path, timeout: float = 180) -> str:
    result = subprocess.run(
        [str(python), *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_lowest_pair_is_the_declared_lower_bounds():
    assert lower_bounds()["Flask"] == "2.3.3"
    assert lower_bounds()["Werkzeug"] == "2.3.8"
    assert pinned()["Flask"].startswith("3.1.")


def test_waitress_is_kept_below_its_next_major_version():
    """The proofs cover waitress 3 as it is and as its main branch is; 4 is another matter."""
    assert re.search(r'"waitress>=3[.0-9]*,<4"', (ROOT / "setup.py").read_text())
    assert pinned()["waitress"].startswith("3.")


def test_the_environment_holds_the_pair_and_the_installed_project(matrix_env):
    pins, python, tests = matrix_env
    script = (
        "import importlib.metadata as m, json, simple_flask, simple_flask_blueprint\n"
        f"names = {list(pins)!r}\n"
        "print(json.dumps({'versions': {n: m.version(n) for n in names},\n"
        "                  'files': [simple_flask.__file__, simple_flask_blueprint.__file__]}))\n"
    )
    found = json.loads(run(python, "-c", script, cwd=tests))
    # Compared as versions: setup.py's "6.0" is the release 6.0.0. A snapshot
    # reports the version its source declares.
    expected = {name: v for name, v in pins.items() if not v.endswith(".tar.gz")}
    assert {name: Version(found["versions"][name]) for name in expected} == {
        name: Version(v) for name, v in expected.items()
    }
    assert all("site-packages" in path for path in found["files"]), found["files"]


def test_a_host_app_greets_on_the_pinned_flask(matrix_env):
    _, python, tests = matrix_env
    script = (
        "from flask import Flask\n"
        "from simple_flask_blueprint import make_blueprint\n"
        "app = Flask('host')\n"
        "app.register_blueprint(make_blueprint(name='hi'), url_prefix='/hi')\n"
        "print(app.test_client().get('/hi/Ann/').get_data(as_text=True))\n"
    )
    assert run(python, "-c", script, cwd=tests).strip() == "Hallo Ann!"


def test_the_blueprint_and_host_app_tests_pass(matrix_env):
    _, python, tests = matrix_env
    output = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MATRIX_TESTS, cwd=tests)
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 20, output[-2000:]
    assert " failed" not in output and " error" not in output, output[-2000:]


def test_the_app_is_built_without_a_warning(matrix_env):
    _, python, tests = matrix_env
    result = subprocess.run(
        [str(python), "-W", "error", "-c", "from simple_flask import create_app; create_app()"],
        cwd=tests,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_every_reliance_holds_on_this_end(matrix_env):
    """No guard refused, no feature or shortcut switched off: all of them are proven here."""
    _, python, tests = matrix_env
    script = (
        "import json\n"
        "from simple_flask import create_app\n"
        "from simple_flask.core import proofs\n"
        "from simple_flask.server.waitress_internals import GracefulServer\n"
        "server = GracefulServer(create_app(), host='127.0.0.1', port=0)\n"
        "server.drain(0)\n"
        "print(json.dumps({name: why for name, (_, why) in proofs.verdicts().items()}))\n"
    )
    verdicts = json.loads(run(python, "-W", "error", "-c", script, cwd=tests))
    assert len(verdicts) >= 12 and {name: why for name, why in verdicts.items() if why} == {}


def test_create_app_serves_through_the_real_server(matrix_env):
    _, python, tests = matrix_env
    serve = [str(python), "-m", "simple_flask", "serve", "--host", "{host}", "--port", "{port}"]
    with running_server(serve, cwd=tests) as server:
        checks = {
            "/": (200, b"Hallo from CORE!"),
            "/blueprint/Ann/": (200, b"Hallo Ann!"),
            "/status/418": (418, b"418 I'm a Teapot"),
            "/healthz": (200, b'{"status": "ok"}'),
        }
        for path, expected in checks.items():
            response, body = server.request("GET", path)
            assert (response.status, body) == expected, path
        response, body = server.request("GET", "/openapi.json")
        assert response.status == 200 and json.loads(body)["openapi"].startswith("3.1.")
        # /docs, with each file it loads: Swagger UI's from this end's flask-swagger-ui.
        docs_assets(server)
        response, _ = server.request("POST", "/status/abc")
        assert (response.status, response.getheader("Content-Type")) == (
            400,
            "application/problem+json",
        )
        # A fault on demand: the connection is reset, with no byte of an answer.
        assert exchange(server.port, b"GET /status/reset HTTP/1.1\r\nHost: x\r\n\r\n") == (
            b"",
            "reset",
        )
        # Ambiguous framing: one answer, a 400, then the end of the connection;
        # the request behind it is never answered.
        smuggling = (
            b"POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        received, ended = exchange(server.port, smuggling)
        # (A request refused on its head is answered in HTTP/1.0, as waitress does.)
        assert received.count(b"HTTP/1.") == 1 and re.match(rb"HTTP/1\.[01] 400 ", received)
        assert ended == "close" and b"201" not in received


@pytest.mark.timeout(1800)
def test_the_whole_suite_passes_on_the_next_waitress_and_flask(environments, git_source):
    """The suite of this checkout, run with the next releases' environment."""
    _, python, _ = environments("next")
    result = pip_install(python, "-e", f"{git_source}[test]")
    assert result.returncode == 0, result.stderr[-3000:]
    versions = run(
        python,
        "-c",
        "import importlib.metadata as m; print(m.version('flask'), m.version('waitress'))",
        cwd=git_source,
    )
    assert versions.split()[0].endswith(".dev0"), versions
    first, second = NEXT_PARTS
    left_out = [f"--ignore={path}" for path in (*NEXT_LEFT_OUT, *first)]
    pytest_run = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    parts = [
        subprocess.Popen(
            [*pytest_run, *arguments],
            cwd=git_source,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for arguments in (first, [*left_out, *second])
    ]
    outputs = []
    try:
        for part in parts:
            outputs.append(part.communicate(timeout=1500)[0])
    finally:
        for part in parts:
            if part.poll() is None:
                part.kill()
                part.communicate()
    for part, output in zip(parts, outputs, strict=True):
        assert part.returncode == 0, output[-3000:]
        assert re.search(r"\d+ passed", output) and " failed" not in output, output[-3000:]


def test_flask_3_0_resolves_with_the_project(tmp_path, git_source):
    """Between the ends: a user pinning Flask 3.0 can install the project."""
    python = new_venv(tmp_path / "env")
    result = pip_install(
        python, "--dry-run", "--report", "-", "flask==3.0.3", f"git+file://{git_source}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    versions = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(result.stdout)["install"]
    }
    assert versions["flask"] == "3.0.3"
    assert "simple-flask" in versions


def test_the_docs_state_the_tested_range_and_pin_this_release():
    from simple_flask import __version__

    docs = (ROOT / "docs" / "blueprints.md").read_text()
    bounds = lower_bounds()
    assert f"| Flask | {bounds['Flask']} to 3.2 |" in docs
    assert f"| Werkzeug | {bounds['Werkzeug']} to 3.1 |" in docs
    assert f"{pinned()['Flask']}" in docs and f"{pinned()['Werkzeug']}" in docs
    assert f'simple_flask.git@v{__version__}"' in docs
    changelog = (ROOT / "CHANGELOG.md").read_text()
    # The release's entry is dated.
    dated = rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    assert re.search(dated, changelog, re.M)
