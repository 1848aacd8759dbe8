"""The code base passes its own linter and formatter settings (pyproject.toml)."""

import pytest

from tests.support import run_module


@pytest.mark.parametrize("command", [("check", "."), ("format", "--check", ".")])
def test_ruff_passes(command):
    run_module("ruff", *command)
