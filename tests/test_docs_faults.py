"""docs/status-service.md, Faults on demand: each curl example, run, prints what it shows."""

import re
import shlex
import shutil
import subprocess

import pytest

from simple_flask.core.status_faults import REFUSED_HEADERS
from tests.pages import section
from tests.support import LOOPBACK, running_server

pytestmark = pytest.mark.slow

PAGE = section("docs/status-service.md", "Faults on demand")
BASE = "http://127.0.0.1:8080"
CURL_ERROR = re.compile(r"curl: \((\d+)\) ")


def examples() -> list[tuple[str, list[str]]]:
    """Return each curl command of the example block with the lines shown under it."""
    block = re.search(r"<!-- fault-examples -->\n```sh\n(.*?)```", PAGE, re.S).group(1)
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("curl "):
            found.append((line, []))
        else:
            assert line.startswith("# "), line
            found[-1][1].append(line[2:])
    return found


@pytest.fixture(scope="module")
def base():
    with running_server() as server:
        yield f"http://{LOOPBACK}:{server.port}"


def test_the_page_shows_every_fault():
    commands = " ".join(command for command, _ in examples())
    for feature in ("/reset", "/close", "truncate=", "stall=", "retry_after=", "header=", "seed="):
        assert feature in commands, feature
    for name in ("httpbin", "go-httpbin", "501"):
        assert name in PAGE


def test_the_page_lists_every_refused_header():
    for name in REFUSED_HEADERS:
        if name != "trailers":
            assert name.lower() in PAGE.lower(), name


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("command", "shown"), examples(), ids=[c for c, _ in examples()])
def test_each_example_prints_what_the_page_shows(base, command, shown):
    words = [word.replace(BASE, base) for word in shlex.split(command)]
    result = subprocess.run([*words, "-m", "10"], capture_output=True, text=True, timeout=20)
    errors = [CURL_ERROR.match(line) for line in shown]
    expected_exit = next((int(match.group(1)) for match in errors if match), 0)
    assert result.returncode == expected_exit, result.stderr
    lines = [line.rstrip("\r") for line in result.stdout.split("\n")]
    for line, error in zip(shown, errors, strict=True):
        if error:
            assert line in result.stderr
        else:
            assert line in lines, (line, lines)
