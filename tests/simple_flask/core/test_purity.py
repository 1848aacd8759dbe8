"""The cores are pure: importing them loads no web framework."""

import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.parametrize("package", ["simple_flask.core", "simple_flask_blueprint.core"])
def test_core_imports_without_flask(package):
    script = (
        f"import sys, {package}\n"
        "web = {'flask', 'werkzeug', 'waitress'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in web)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_blueprint_package_imports_nothing_from_simple_flask():
    script = (
        "import sys, simple_flask_blueprint\n"
        "simple_flask_blueprint.make_blueprint()\n"
        "print(any(m.split('.')[0] == 'simple_flask' for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
