"""The status service for tests: the pytest plugin, installed, and running_service().

docs/testing.md's examples run here as a user runs them: in a fresh virtual
environment holding the wheel and the clients, from an empty folder with no
conftest.py, under plain pytest and under pytest -n 2. The start-up cost is the
benchmark's (benchmarks/plugin_cost.py): here its smoke run only has to work.
"""

import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from benchmarks.fresh_env import fresh_environment, user_environment
from simple_flask.testing import ServiceError, StatusService, running_service, sequence_key
from simple_flask.testing.processes import wait_for
from tests.pages import block_after
from tests.support import ROOT, request, run_module, web_modules_after

pytestmark = pytest.mark.slow

DOC = "docs/testing.md"
# What the examples need besides the package, at the versions this environment has.
CLIENTS = ["pytest", "pytest-xdist", "requests", "httpx", "aiohttp"]
# A whole pytest session in the fresh environment, the server's start included.
SESSION_TIMEOUT = 240
# Records which server each pytest-xdist worker's tests met. Its file is
# collected first, and pytest-xdist hands each worker a first batch of
# consecutive tests, so every worker runs some of these.
WORKERS_TEST = """
import os
import pytest


@pytest.mark.parametrize("n", range(8))
def test_record_the_server(status_service, n):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.environ["SERVERS_SEEN"], "a") as seen:
        seen.write(f"{worker} {status_service.port}\\n")
"""


def pinned(name: str) -> str:
    """Return `name` pinned to the version installed here, or bare if it is not."""
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory, wheel):
    """A fresh environment: requirements.txt, the wheel and the examples' clients; its bin/."""
    venv = tmp_path_factory.mktemp("plugin_venv") / "env"
    return fresh_environment(venv, wheel, [pinned(name) for name in CLIENTS])


def run(command: str, cwd: Path, bin_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    """Run the shell words `command` in `cwd` as a user of `bin_dir` would."""
    return subprocess.run(
        shlex.split(command),
        cwd=cwd,
        env=user_environment(bin_dir, **extra),
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT,
    )


def write_example(folder: Path, marker: str, name: str) -> None:
    """Write the page's code block after <!-- testing: marker --> to `folder`/`name`."""
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(block_after(f"testing: {marker}", DOC))


def test_the_wheel_registers_the_plugin(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(name).decode()
    assert "[pytest11]\nsimple_flask = simple_flask.testing.pytest_plugin" in entry_points, (
        "setup.py's entry_points must register the plugin under pytest11"
    )


def test_the_plugin_imports_no_web_framework():
    # pytest imports it in every session of an environment holding the package.
    assert web_modules_after("import simple_flask.testing.pytest_plugin") == []


def test_a_folder_without_conftest_gets_a_service_per_worker(plugin_venv, tmp_path):
    folder = tmp_path / "tests"
    write_example(folder, "requests", "test_retries.py")
    write_example(folder, "httpx", "test_httpx.py")
    write_example(folder, "aiohttp", "test_aiohttp.py")
    (folder / "test_0_workers.py").write_text(WORKERS_TEST)
    expected = 4 + 2 + 1 + 8
    for command in block_after("testing: run", DOC).splitlines():
        seen = tmp_path / f"seen {command}"
        result = run(command, folder, plugin_venv, SERVERS_SEEN=str(seen))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{expected} passed" in result.stdout, result.stdout
        met = {tuple(line.split()) for line in seen.read_text().splitlines()}
        workers = {worker for worker, _ in met}
        # One server for each worker, each its own.
        assert len(workers) == len(met) == len({port for _, port in met}), met
        assert len(workers) == (2 if "-n 2" in command else 1), met


def test_settings_come_from_the_overridden_fixture(plugin_venv, tmp_path):
    write_example(tmp_path, "conftest", "conftest.py")
    write_example(tmp_path, "settings-test", "test_settings.py")
    result = run("python -m pytest -q -p no:cacheprovider", tmp_path, plugin_venv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_unittest_example_runs_without_pytest(plugin_venv, tmp_path):
    write_example(tmp_path, "unittest", "test_client.py")
    result = run("python test_client.py", tmp_path, plugin_venv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.rstrip().endswith("OK"), result.stderr


def test_the_start_up_cost_benchmark_gives_its_figures(plugin_venv, tmp_path):
    """`python -m benchmarks.plugin_cost --smoke` times both sessions and writes the figures.

    Only that it measures is checked: what it measures is the benchmark's to report.
    """
    result = run_module(
        "benchmarks.plugin_cost",
        *("--smoke", "--venv", str(plugin_venv.parent), "--out", str(tmp_path)),
        timeout=4 * SESSION_TIMEOUT,
    )
    summary = json.loads((tmp_path / "plugin_cost.json").read_text())
    assert set(summary["sessions"]) == {"with", "without"}
    for figures in [*summary["sessions"].values(), summary["added"]]:
        assert len(figures["seconds"]) == 1
        assert isinstance(figures["median_s"], float)
    assert summary["target"]["goal"] == "<= 0.6"
    assert summary["target"]["measured"] == summary["added"]["median_s"]
    assert summary["meta"]["versions"]["simple-flask"]
    # The table on stdout and in plugin_cost.md: a median for each kind, and what was added.
    shown = (tmp_path / "plugin_cost.md").read_text()
    assert result.stdout == shown
    for label in ("without the fixture", "with the fixture", "added by the fixture"):
        (row,) = re.findall(rf"^\| {label} \| (-?\d+\.\d\d) s \| (-?\d+\.\d\d) \|$", shown, re.M)
        assert float(row[0]) == float(row[1])
    assert re.search(
        r"^\| seconds starting .* \| -?\d+\.\d\d \| <= 0\.6 \| (yes|\*\*no\*\*) \|$", shown, re.M
    )
    assert "pytest " in shown.splitlines()[-1]


def listening(port: int) -> bool:
    """Tell whether something accepts connections on loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def test_running_service_stops_everything_it_starts():
    threads_before = set(threading.enumerate())
    with running_service() as service:
        assert isinstance(service, StatusService)
        assert service.url == f"http://127.0.0.1:{service.port}"
        with urllib.request.urlopen(f"{service.url}/", timeout=10) as answer:
            assert answer.read() == b"Hallo from CORE!"
        log_path = service.log_path
    assert service.process.returncode == 0
    assert "stopped after" in service.log()
    assert not log_path.exists()
    assert not listening(service.port)
    # A new server can listen on the port (waitress, like most, sets SO_REUSEADDR).
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", service.port))
        again.listen()
    assert set(threading.enumerate()) == threads_before


def test_the_server_stops_when_the_test_process_is_killed():
    script = (
        "import time\n"
        "from simple_flask.testing import running_service\n"
        "with running_service() as service:\n"
        "    print(service.port, flush=True)\n"
        "    time.sleep(120)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as tests:
        try:
            port = int(tests.stdout.readline())
            assert listening(port)
        finally:
            # No teardown: SIGKILL, as a CI job's timeout or a crashed worker would.
            tests.kill()
    assert wait_for(lambda: not listening(port), timeout=30)


def test_a_request_in_flight_is_answered_before_the_stop():
    answers: list[int] = []
    with running_service() as service:
        key = sequence_key("in-flight")
        client = threading.Thread(
            target=lambda: answers.append(
                request(service.port, "GET", f"/status/200?sleep=300&sequence={key}")[0].status
            )
        )
        client.start()
        # The stop begins once the request has arrived, not after a guessed pause.
        assert wait_for(lambda: service.report(key), timeout=10, interval=0.01)
    client.join(10)
    assert answers == [200]


def test_sequences_are_read_and_forgotten():
    with running_service() as service:
        first, second = sequence_key("first"), sequence_key("second")
        for key in (first, second):
            request(service.port, "GET", f"/status/503,200?sequence={key}")
        assert service.keys() == [second, first]
        report = service.report(first)
        assert report is not None
        assert report["key"] == first
        assert report["entries"] == ["503", "200"]
        assert report["attempts_total"] == 1
        service.forget(first)
        assert service.report(first) is None
        assert service.keys() == [second]
        service.reset()
        assert service.keys() == []
        assert service.report("never-used") is None
        # A text that is no key is refused before anything is sent: "" would
        # name the list of keys, and forgetting it every sequence.
        request(service.port, "GET", f"/status/503,200?sequence={first}")
        for not_a_key in ("", "..", "a/b", "k" * 65):
            with pytest.raises(ValueError, match="a sequence key must be"):
                service.report(not_a_key)
            with pytest.raises(ValueError, match="a sequence key must be"):
                service.forget(not_a_key)
        assert service.keys() == [first]


def test_settings_come_from_arguments_never_the_environment(monkeypatch):
    # Each of these would break the server or the test if it were read.
    monkeypatch.setenv("SIMPLE_FLASK_MAX_SLEEP_MS", "0")
    monkeypatch.setenv("SIMPLE_FLASK_THREADS", "not a number")
    monkeypatch.setenv("HOST", "192.0.2.1")
    monkeypatch.setenv("PORT", "1")
    with running_service(max_sleep_ms=200, access_log=True) as service:
        answer, body = request(service.port, "GET", "/status/200?sleep=100")
        assert answer.status == 200
        answer, body = request(service.port, "GET", "/status/200?sleep=300")
        assert answer.status == 400
        assert "from 0 to 200" in json.loads(body)["detail"]
    # The access log was asked for: one JSON line a request.
    assert '"path":"/status/200","status":400' in service.log()


def test_a_refused_setting_is_reported_and_nothing_is_left():
    threads_before = set(threading.enumerate())
    with pytest.raises(ServiceError, match="--threads='0' is not allowed") as raised:
        with running_service(threads=0):
            pass
    assert "exit status 2" in str(raised.value)
    assert set(threading.enumerate()) == threads_before


def test_a_server_that_dies_is_reported_on_exit():
    with pytest.raises(ServiceError, match="exited -9"):
        with running_service() as service:
            service.process.kill()
            service.process.wait()


def test_sequence_keys_keep_to_the_rules():
    long_name = "test_x[" + "a/b " * 40 + "]"
    keys = {sequence_key(hint) for hint in ["test", "..", "", long_name, "ünïcode ✓"]}
    assert len(keys) == 5
    for key in keys:
        assert 1 <= len(key) <= 64
        assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
        assert key not in (".", "..")


def test_the_key_rule_is_the_servers():
    from simple_flask.core.sequences import parse_key
    from simple_flask.testing.service import _sequence_path

    for text in ["", ".", "..", "...", "a", "k" * 64, "k" * 65, "a/b", "a b", "ü", "A~b_c.9-"]:
        try:
            parse_key(text)
        except ValueError:
            with pytest.raises(ValueError):
                _sequence_path(text)
        else:
            assert _sequence_path(text) == f"/status/sequences/{text}"
