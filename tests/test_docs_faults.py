"""The curl examples of the docs' faults, options and sequences: each, run, prints what it shows.

docs/status-service.md's examples run in any order, each sequence under a
key of its own; docs/sequences.md's run in the order shown, on a server of
their own, since each attempt follows the one before.
"""

import re
import shlex
import shutil
import subprocess

import pytest

from simple_flask.core.status_faults import REFUSED_HEADERS, REFUSED_PREFIXES
from tests.pages import page, section
from tests.support import LOOPBACK, running_server

pytestmark = pytest.mark.slow

STATUS_PAGE = "docs/status-service.md"
PAGE = section(STATUS_PAGE, "Faults on demand")
OPTIONS = section(STATUS_PAGE, "Entries and their options")
BASE = "http://127.0.0.1:8080"
CURL_ERROR = re.compile(r"curl: \((\d+)\) ")
# In a shown line, "..." stands for what changes from run to run, such as a time.
ELIDED = "..."
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def examples(
    marker: str = "fault-examples", name: str = STATUS_PAGE
) -> list[tuple[str, list[str]]]:
    """Return each curl command of the blocks after `<!-- marker -->` in page `name`.

    Each comes with the lines shown under it.
    """
    blocks = re.findall(rf"<!-- {marker} -->\n```sh\n(.*?)```", page(name), re.S)
    assert blocks, f"{name} has no <!-- {marker} --> block"
    found: list[tuple[str, list[str]]] = []
    for line in "".join(blocks).splitlines():
        if line.startswith("curl "):
            found.append((line, []))
        else:
            assert line.startswith("# "), line
            found[-1][1].append(line[2:])
    return found


def shows(line: str, lines: list[str]) -> bool:
    """Tell whether `line`, where "..." may stand for anything, is one of `lines`."""
    if ELIDED not in line:
        return line in lines
    pattern = re.compile(".*?".join(re.escape(part) for part in line.split(ELIDED)))
    return any(pattern.fullmatch(printed) for printed in lines)


def check(base: str, command: str, shown: list[str]) -> None:
    """Run `command` against the server at `base`; it must print `shown` and exit as it says."""
    # comments=True: a command may end with a comment of its own ("# 204").
    words = [word.replace(BASE, base) for word in shlex.split(command, comments=True)]
    result = subprocess.run([*words, "-m", "10"], capture_output=True, text=True, timeout=20)
    errors = [CURL_ERROR.match(line) for line in shown]
    expected_exit = next((int(match.group(1)) for match in errors if match), 0)
    assert result.returncode == expected_exit, result.stderr
    lines = [line.rstrip("\r") for line in result.stdout.split("\n")]
    for line, error in zip(shown, errors, strict=True):
        if error:
            assert line in result.stderr
        else:
            assert shows(line, lines), (line, lines)


@pytest.fixture(scope="module")
def base():
    with running_server() as server:
        yield f"http://{LOOPBACK}:{server.port}"


def test_the_page_shows_every_fault():
    commands = " ".join(command for command, _ in examples())
    for feature in ("/reset", "/close", "truncate=", "stall=", "retry_after=", "header=", "seed="):
        assert feature in commands, feature
    for fault in ("/garbage", "/bad_chunk", "/cut_head"):
        assert fault in commands, fault
    for name in ("httpbin", "go-httpbin", "501"):
        assert name in PAGE


def test_the_options_have_an_example_each():
    commands = " ".join(command for command, _ in examples("option-examples"))
    for feature in (";sleep=", ";stall=", ";truncate=", ";retry_after=", ";size=", ";rate="):
        assert feature in commands, feature
    # A range, a date, a weighted entry with options, a query default, a sequence.
    for feature in ("..", "date:", ":0.1;", "?size=", "?sequence="):
        assert feature in commands, feature
    assert "<!-- option-examples -->" in OPTIONS


def test_the_page_lists_every_refused_header():
    for name in REFUSED_HEADERS:
        if name != "trailers":
            assert f"`{name}`" in PAGE.lower(), name
    for prefix in REFUSED_PREFIXES:
        assert f"`{prefix}*`" in PAGE.lower(), prefix


# Every example runs once, in any order: each sequence example has a key of its own.
EVERY_EXAMPLE = [
    pytest.param(command, shown, id=command)
    for marker in ("fault-examples", "option-examples")
    for command, shown in examples(marker)
]


@needs_curl
@pytest.mark.parametrize(("command", "shown"), EVERY_EXAMPLE)
def test_each_example_prints_what_the_page_shows(base, command, shown):
    check(base, command, shown)


@needs_curl
def test_the_sequence_examples_print_what_the_page_shows_in_order():
    commands = examples("sequence-examples", "docs/sequences.md")
    everything = " ".join(command for command, _ in commands)
    for feature in (
        "-X POST",
        "-X DELETE http://127.0.0.1:8080/status/sequences/",
        ";retry_after=",
    ):
        assert feature in everything, feature
    # A server of its own: the list of keys shows only the page's own.
    with running_server() as server:
        for command, shown in commands:
            check(f"http://{LOOPBACK}:{server.port}", command, shown)
