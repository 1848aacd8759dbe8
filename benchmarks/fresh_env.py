"""The package as a user installs it: a wheel, a fresh virtual environment, a user's shell.

benchmarks/plugin_cost.py times pytest sessions in such an environment, and
tests/test_pytest_plugin.py runs docs/testing.md's examples in one: the
pinned run-time set from requirements.txt (hash-checked) first, as the
container installs it, then the wheel without dependencies, then what the
caller adds (pytest, the clients).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from simple_flask.testing.processes import SETTINGS_PREFIX

from .process import ROOT


def build_wheel(outdir: Path) -> Path:
    """Build the checkout's wheel into `outdir`, as `pip install git+...` builds it; its path."""
    # setuptools reuses build/ in the checkout: a module deleted since an
    # earlier build would still be in the wheel.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not build the wheel:\n{(result.stdout + result.stderr)[-2000:]}")
    (built,) = outdir.glob("simple_flask-*.whl")
    return built


def fresh_environment(directory: Path, wheel: Path, extra: list[str]) -> Path:
    """Make a virtual environment in `directory` holding requirements.txt, `wheel` and `extra`.

    Returns its bin directory. Raises RuntimeError with pip's output if an
    install fails.
    """
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    pip = [str(directory / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    for arguments in (
        ["--require-hashes", "-r", str(ROOT / "requirements.txt")],
        ["--no-deps", str(wheel)],
        extra,
    ):
        if not arguments:
            continue
        result = subprocess.run(
            [*pip, *arguments],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pip install {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}"
            )
    return directory / "bin"


def user_environment(bin_dir: Path, **extra: str) -> dict[str, str]:
    """A user's shell with `bin_dir` first on PATH: none of this run's settings or pytest's."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith((SETTINGS_PREFIX, "PYTEST_", "PYTHON"))
    }
    environment["PATH"] = os.pathsep.join([str(bin_dir), environment.get("PATH", "")])
    environment.update(extra)
    return environment
