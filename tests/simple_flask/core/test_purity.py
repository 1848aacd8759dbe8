"""The cores are pure: importing them loads no web framework."""

import subprocess
import sys

import pytest

from tests.support import ROOT, web_modules_after


@pytest.mark.parametrize(
    "module",
    [
        "simple_flask.core",
        "simple_flask.core.status_codes",
        "simple_flask.core.status_headers",
        "simple_flask.core.sleep_slots",
        "simple_flask_blueprint.core",
    ],
)
def test_core_imports_without_a_web_framework(module):
    assert web_modules_after(f"import {module}") == []


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
