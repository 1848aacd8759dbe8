"""The README's commands, paths and examples match the code."""

import json
import re
import subprocess
import sys

import pytest

from tests.pages import block_after
from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    command = block_after("test-command").strip()
    assert 'pip install -e ".[test]"' in command
    assert command.endswith("python -m pytest")
    extract = re.search(r"test_command=\$\((awk .*)\)\n", (ROOT / ".ci/run").read_text()).group(1)
    result = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == command


def test_start_command_serves_with_the_installed_command():
    command = block_after("start-command").strip()
    assert command.endswith("simple-flask serve")


def test_blueprint_example_runs(tmp_path):
    script = tmp_path / "host_app.py"
    script.write_text(block_after("blueprint-example"))
    subprocess.run([sys.executable, str(script)], cwd=ROOT, check=True)


def curl_request(command: str) -> tuple[str, dict[str, str]]:
    """Return the path and headers of a README curl command aimed at port 8080."""
    path = command.split(":8080", 1)[1].strip("\"'")
    headers = dict(header.split(": ", 1) for header in re.findall(r"-H '([^']+)'", command))
    return path.replace("$(printf 'x%.0s' {1..101})", "x" * 101), headers


def test_curl_examples_match_the_app(client):
    lines = block_after("curl-examples").splitlines()
    commands = [number for number, line in enumerate(lines) if line.startswith("curl")]
    for number in commands:
        path, headers = curl_request(lines[number])
        response = client.get(path, headers=headers)
        shown = [line[2:] for line in lines[number + 1 :] if line.startswith("# ")]
        if shown[0].startswith("HTTP/1.1"):
            assert (
                shown[0]
                == f"HTTP/1.1 {response.status_code} {response.status.split(' ', 1)[1].title()}"
            )
            assert shown[1] == f"Content-Type: {response.headers['Content-Type']}"
            assert json.loads(shown[2]) == json.loads(response.get_data())
        else:
            assert shown[0] == response.get_data(as_text=True)
    assert len(commands) == 3


@pytest.mark.parametrize("path", re.findall(r"^(\S+/)\s", README.split("## Layout", 1)[1], re.M))
def test_layout_folders_exist(path):
    assert (ROOT / path).is_dir(), path
