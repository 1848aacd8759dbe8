"""A virtual environment of its own for httpbin.

httpbin from PyPI pins greenlet below 3 on Python < 3.12, which other test
tools of this project (Playwright) cannot live with, so it cannot join the
project's extras. The suite installs it in a separate environment, next to
the very Flask, Werkzeug and waitress versions the service runs on, so only
the application differs.
"""

import fcntl
import json
import os
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

HTTPBIN = "httpbin>=0.10"
SHARED = ("Flask", "Werkzeug", "waitress")


def installed(name: str) -> str:
    """Return a requirement for `name` as this environment has it: its version, or the archive
    it was installed from when that is no release of the index (a source snapshot)."""
    found = distribution(name)
    # PEP 610: a package installed from a URL or a file says where from.
    origin = found.read_text("direct_url.json")
    if origin:
        url = json.loads(origin).get("url", "")
        if url.startswith("file://") and not json.loads(origin).get("dir_info"):
            return f"{name} @ {url}"
    return f"{name}=={found.version}"


def requirements() -> list[str]:
    """Return what the httpbin environment installs: httpbin and this environment's versions."""
    return [HTTPBIN, *(installed(name) for name in SHARED)]


def httpbin_python(directory: Path) -> Path:
    """Return the interpreter of the httpbin environment in `directory`, made if needed."""
    directory.mkdir(parents=True, exist_ok=True)
    python = directory / "bin" / "python"
    stamp = directory / "installed.txt"
    wanted = "\n".join(requirements())
    # Two runs at once (a test and a full run) must not build it twice.
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        stamp.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(directory)], check=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *requirements()],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"could not install {HTTPBIN}:\n{result.stderr[-2000:]}")
        stamp.write_text(wanted)
    return python


def purelib(python: Path) -> Path:
    """Return the site-packages directory of the environment `python` belongs to."""
    result = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip())
