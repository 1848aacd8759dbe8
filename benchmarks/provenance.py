"""When, on what machine and with which versions a measurement was taken, and the line saying so.

Both modes (the wrk suite and the instruction counts) record these in their
JSON and print them under their tables.
"""

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path

from .process import ROOT, server_options

# The distributions whose versions a run records, httpbin's read apart.
SERVED = ("Flask", "Werkzeug", "waitress", "flask-cors", "simple-flask")
# The code the servers run: a change there, not yet committed, is flagged.
SERVED_CODE = ("simple_flask", "simple_flask_blueprint", "start.py")


def versions(venv_path: list[str] | None = None) -> dict[str, str | None]:
    """Return the versions of Python and the served distributions (httpbin's from `venv_path`)."""
    found: dict[str, str | None] = {}
    for name in SERVED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    if venv_path:
        for dist in distributions(path=venv_path):
            if dist.metadata["Name"].lower() == "httpbin":
                found["httpbin"] = dist.version
    found["python"] = platform.python_version()
    return found


def tool_version(argv: list[str], word: int = 0, prefix: str = "") -> str | None:
    """Return the `word`-th word a tool prints for `argv` (such as wrk --version), less `prefix`."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    words = (result.stdout or result.stderr).split()
    return words[word].removeprefix(prefix) if len(words) > word else None


def commit() -> str | None:
    """Return the checkout's short commit, with "+modified" if the served code differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    # The servers run from the work tree: say so when it differs from the commit.
    modified = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", *SERVED_CODE], cwd=ROOT, check=False
    )
    return (head.stdout.strip() + ("+modified" if modified.returncode == 1 else "")) or None


def machine() -> dict[str, object]:
    """Return the CPU model, the number of cores and the operating system."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
    }


def waitress() -> dict[str, object]:
    """Return the waitress options every server runs with, the service's production ones."""
    return {key: value for key, value in server_options(0).items() if key not in ("host", "port")}


def now() -> str:
    """Return the date and time a run is taken at, in UTC, to the minute."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def stamp(meta: dict[str, object], where: str, tools: tuple[str, ...]) -> str:
    """Return one line saying when, `where` and with what a run was taken.

    `tools` are the versions named besides Python and the served distributions.
    """
    found = meta["versions"]
    names = ("python", "Flask", "Werkzeug", "waitress", "flask-cors", "httpbin", *tools)
    parts = ", ".join(f"{name} {found[name]}" for name in names if found.get(name))
    commit = f" @ {meta['commit']}" if meta.get("commit") else ""
    return f"{meta['date']} · {where} · {parts} · simple_flask {found.get('simple-flask')}{commit}"
