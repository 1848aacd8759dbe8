"""Packaging: the wheel holds every package, and installs and runs away from the checkout."""

import re
import shlex
import subprocess
import sys
import zipfile

import pytest

from simple_flask import __version__
from tests.support import ROOT, run_python

pytestmark = pytest.mark.slow


def test_wheel_holds_every_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in [
        "simple_flask",
        "simple_flask/core",
        "simple_flask/rest",
        "simple_flask_blueprint",
        "simple_flask_blueprint/core",
        "simple_flask_blueprint/rest",
    ]:
        assert f"{package}/__init__.py" in names, package
    assert not any(name.startswith("tests/") for name in names)
    assert wheel.name.startswith(f"simple_flask-{__version__}-")


def test_wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()
    assert "Name: simple-flask" in metadata
    assert f"Version: {__version__}" in metadata
    assert "Requires-Python: >=3.11" in metadata
    for requirement in ["flask>=2.3.3", "werkzeug>=2.3.8", "flask-cors>=6.0", "waitress<4,>=3.0.2"]:
        assert f"Requires-Dist: {requirement}".lower() in metadata.lower(), requirement
    assert "simple-flask = simple_flask.server.cli:main" in entry_points


def test_installed_command_and_imports_work_outside_the_checkout(installed_venv, tmp_path):
    help_text = subprocess.run(
        [str(installed_venv / "simple-flask"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "serve" in help_text
    script = (
        "import simple_flask, simple_flask_blueprint, simple_flask.core, simple_flask.rest\n"
        "print(simple_flask.__file__)\n"
        "app = simple_flask.create_app()\n"
        "print(app.test_client().get('/Ann/').get_data(as_text=True))\n"
        "print(simple_flask_blueprint.make_blueprint().name)\n"
    )
    origin, greeting, blueprint_name = run_python(
        installed_venv / "python", script, tmp_path
    ).splitlines()
    assert "site-packages" in origin
    assert greeting == "Hallo Ann from CORE!"
    assert blueprint_name == "simple_flask_blueprint"


def test_requirements_pin_the_whole_runtime_set(installed_venv):
    """requirements.txt installed with --require-hashes satisfies every dependency."""
    result = subprocess.run(
        [str(installed_venv / "python"), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_install_line_installs_from_a_clone(tmp_path):
    """The README's `pip install "git+…@<ref>"`, copied with a clone's file:// URL, installs."""
    readme = (ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith('pip install "git+')]
    url = re.search(r'"git\+(https://github\.com/<owner>/simple_flask\.git)@([^"]+)"', line)
    assert url, line
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # The ref the line names, at the commit under test: a checkout on another
    # branch, or a detached one, has no such branch of its own.
    subprocess.run(
        ["git", "-C", str(clone), "checkout", "-q", "-B", url.group(2)], check=True, timeout=60
    )
    # Read as the shell reads it: the quotes go.
    command = shlex.split(line.split("#", 1)[0].replace(url.group(1), f"file://{clone}"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The runtime set from requirements.txt first, as the container installs it,
    # so that the line itself only has the project to fetch.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "install", "-q", "--require-hashes", "-r", str(ROOT / "requirements.txt")],
        check=True,
        timeout=600,
    )
    assert command[:2] == ["pip", "install"]
    result = subprocess.run([*pip, *command[1:]], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    shown = subprocess.run(
        [str(venv / "bin" / "simple-flask"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and "serve" in shown.stdout
