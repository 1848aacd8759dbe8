"""Type checks: both packages pass `mypy --strict`, and so does a script using every public name.

A script that passes a wrong type to the public API must fail, so the check
can catch a mistake (the names are not Any behind the lazy imports).
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow

# Every public name, used the way the docs show (docs/blueprints.md).
USER_SCRIPT = """
from flask import Blueprint, Flask

from simple_flask import __version__, create_app, make_status_blueprint
from simple_flask.core.settings import Settings
from simple_flask_blueprint import bp, make_blueprint


def shout(name: str | None) -> str:
    return f"HALLO {name or 'WORLD'}!"


settings: Settings = Settings(max_sleep_ms=100, threads=4)
root: Flask = create_app({"SETTINGS": settings, "TESTING": True})
host = Flask(__name__)
greeting: Blueprint = make_blueprint(name="hi", greeter=shout)
host.register_blueprint(greeting, url_prefix="/hi")
host.register_blueprint(bp, url_prefix="/hello")
codes: Blueprint = make_status_blueprint(name="codes", max_sleep_ms=0, sleep_slots=1)
host.register_blueprint(codes, url_prefix="/status")
version: str = __version__
reveal_type(make_blueprint)
reveal_type(bp)
reveal_type(make_status_blueprint)
reveal_type(create_app)
"""

WRONG_SCRIPT = """
from simple_flask_blueprint import make_blueprint

make_blueprint(name=123)
"""


def mypy(cache: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One mypy cache for the module: later runs reuse what the first one read."""
    return tmp_path_factory.mktemp("mypy_cache")


def test_both_packages_pass_mypy_strict(cache):
    # From the checkout, so pyproject.toml's [tool.mypy] applies.
    result = mypy(cache, "-p", "simple_flask", "-p", "simple_flask_blueprint", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def check_installed(
    cache: Path, installed_venv: Path, script: Path
) -> subprocess.CompletedProcess[str]:
    """Type-check `script` against the wheel installed in a fresh environment.

    mypy reads the installed packages only because they ship py.typed (PEP 561);
    the checkout's editable install is out of sight.
    """
    python = installed_venv / "python"
    return mypy(cache, "--python-executable", str(python), str(script), cwd=script.parent)


def test_a_script_using_every_public_name_passes(cache, installed_venv, tmp_path):
    script = tmp_path / "user_app.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    result = check_installed(cache, installed_venv, script)
    assert result.returncode == 0, result.stdout + result.stderr
    revealed = [line for line in result.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 4, result.stdout
    # Real signatures, not Any hidden behind the lazy imports.
    assert not any("Any" in line for line in revealed), revealed
    make_blueprint, bp, make_status_blueprint, create_app = revealed
    assert "name: str" in make_blueprint and "Blueprint" in make_blueprint
    assert "Blueprint" in bp
    assert "max_sleep_ms: int" in make_status_blueprint
    assert "Flask" in create_app


def test_a_wrong_argument_type_fails(cache, installed_venv, tmp_path):
    script = tmp_path / "wrong.py"
    script.write_text(textwrap.dedent(WRONG_SCRIPT))
    result = check_installed(cache, installed_venv, script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Argument "name" to "make_blueprint" has incompatible type "int"' in result.stdout
    assert "wrong.py:4:" in result.stdout


def test_a_misspelt_public_name_fails(cache, installed_venv, tmp_path):
    """The module __getattr__ is hidden from type checkers, so a typo is not Any."""
    script = tmp_path / "typo.py"
    script.write_text("from simple_flask import create_ap\nfrom simple_flask_blueprint import b\n")
    result = check_installed(cache, installed_venv, script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("[attr-defined]") == 2, result.stdout


@pytest.mark.parametrize("package", ["simple_flask", "simple_flask_blueprint"])
def test_the_wheel_ships_the_py_typed_markers(wheel, package):
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        assert f"{package}/py.typed" in archive.namelist()
