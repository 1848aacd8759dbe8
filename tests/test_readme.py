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


def layout_entries() -> list[str]:
    """The paths the README's layout block names, folders nested under their package."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    entries, package = [], ""
    for line in block.splitlines():
        # The names fill the first column; what follows two spaces describes them.
        names = line.split("   ", 1)[0].split()
        for name in names:
            if line.startswith("  "):
                entries.append(package + name)
            else:
                package = name if name.endswith("/") else package
                entries.append(name)
    return entries


@pytest.mark.parametrize("path", layout_entries())
def test_layout_entries_exist(path):
    assert (ROOT / path).exists(), path


@pytest.mark.parametrize("package", ["simple_flask", "simple_flask_blueprint"])
def test_layout_lists_every_folder_of_the_packages(package):
    """Each folder of a package is in the layout, and the layout lists no folder it lacks."""
    folders = {
        f"{package}/{path.name}/"
        for path in (ROOT / package).iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    listed = {
        entry
        for entry in layout_entries()
        if entry.startswith(f"{package}/") and entry.count("/") == 2
    }
    assert listed == folders


def test_the_rehearsal_report_is_quoted_from_the_deploy_page():
    """The README's lines of the rehearsal's report stand, as they are, in docs/deploy.md's run."""
    quoted = block_after("rehearsal-report").splitlines()
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").splitlines()
    assert len(quoted) >= 4
    assert all(line in deploy for line in quoted), quoted
